namespace Capstan.Client;

/// <summary>Progress of a download.</summary>
/// <param name="BytesReceived">Bytes so far.</param>
/// <param name="TotalBytes">The file's size when the server said it.</param>
public readonly record struct DownloadProgress(long BytesReceived, long? TotalBytes);
