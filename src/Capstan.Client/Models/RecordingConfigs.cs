using System.Text.Json.Serialization;

namespace Capstan.Client.Models;

/// <summary>Audio of a recording.</summary>
public sealed class AudioConfig
{
    /// <summary><c>AAC</c> (default) or <c>MP3</c>.</summary>
    public string? Codec { get; set; }

    /// <summary><c>stereo</c> (default) or <c>mono</c>.</summary>
    public string? Channel { get; set; }

    /// <summary>Also export a separate audio file (default true).</summary>
    public bool? ExportFile { get; set; }
}

/// <summary>Video of a recording.</summary>
public sealed class VideoConfig
{
    /// <summary><c>H264</c> (default, MP4), <c>VP8</c> or <c>VP9</c> (WebM).</summary>
    public string? Codec { get; set; }

    /// <summary>Width in pixels (1..1920, default 1280).</summary>
    public int? Width { get; set; }

    /// <summary>Height in pixels (1..1920, default 720).</summary>
    public int? Height { get; set; }

    /// <summary>Export the video file (default true).</summary>
    public bool? ExportFile { get; set; }

    /// <summary>An image drawn over the video.</summary>
    public WatermarkConfig? Watermark { get; set; }
}

/// <summary>A watermark image.</summary>
public sealed class WatermarkConfig
{
    /// <summary>Image URL.</summary>
    public string? Url { get; set; }

    /// <summary><c>left top</c> (default), <c>right top</c>, <c>left bottom</c> or <c>right bottom</c>.</summary>
    public string? Position { get; set; }

    /// <summary>Size in pixels.</summary>
    public WatermarkSize? Size { get; set; }
}

/// <summary>Size of a watermark in pixels.</summary>
public sealed class WatermarkSize
{
    /// <summary>Width.</summary>
    public int? Width { get; set; }

    /// <summary>Height.</summary>
    public int? Height { get; set; }
}

/// <summary>Whether the default bucket keeps the files (<c>realtimekit_bucket_config</c>).</summary>
public sealed class BucketConfig
{
    /// <summary>False: no download URLs are made.</summary>
    public bool? Enabled { get; set; }
}

/// <summary>An RTMP destination to push the recording to live.</summary>
public sealed class RtmpConfig
{
    /// <summary><c>rtmp://...</c> URL.</summary>
    public string? RtmpUrl { get; set; }
}

/// <summary>Interactive (timed metadata) recording.</summary>
public sealed class InteractiveConfig
{
    /// <summary><c>ID3</c>.</summary>
    public string? Type { get; set; }
}

/// <summary>A storage destination: <c>aws</c>, <c>azure</c>, <c>digitalocean</c>, <c>gcs</c> or <c>sftp</c>. Secrets
/// (<see cref="AccessKey"/>, <see cref="Secret"/>, <see cref="Password"/>, <see cref="PrivateKey"/>) are sent, and
/// never come back in responses.</summary>
public sealed class StorageConfig
{
    /// <summary>Destination type (required in requests).</summary>
    public string? Type { get; set; }

    /// <summary>Access key (Azure: the connection string). Write-only.</summary>
    public string? AccessKey { get; set; }

    /// <summary>Secret (GCS: the service-account JSON). Write-only.</summary>
    public string? Secret { get; set; }

    /// <summary>Bucket or container.</summary>
    public string? Bucket { get; set; }

    /// <summary>Region.</summary>
    public string? Region { get; set; }

    /// <summary>Folder inside the bucket.</summary>
    public string? Path { get; set; }

    /// <summary>SFTP: <c>KEY</c> or <c>PASSWORD</c>.</summary>
    public string? AuthMethod { get; set; }

    /// <summary>SFTP user.</summary>
    public string? Username { get; set; }

    /// <summary>SFTP password, or the private key's passphrase. Write-only.</summary>
    public string? Password { get; set; }

    /// <summary>SFTP host.</summary>
    public string? Host { get; set; }

    /// <summary>SFTP port.</summary>
    public int? Port { get; set; }

    /// <summary>SFTP private key. Write-only.</summary>
    public string? PrivateKey { get; set; }
}

/// <summary>A meeting's (or the app's) recording configuration.</summary>
public sealed class RecordingConfig
{
    /// <summary>Audio.</summary>
    public AudioConfig? AudioConfig { get; set; }

    /// <summary>Video.</summary>
    public VideoConfig? VideoConfig { get; set; }

    /// <summary>Prefix of file names (<c>[A-Za-z0-9_]{1,64}</c>).</summary>
    public string? FileNamePrefix { get; set; }

    /// <summary>RTMP push.</summary>
    public RtmpConfig? LiveStreamingConfig { get; set; }

    /// <summary>Stop after this many seconds (60..86400).</summary>
    public int? MaxSeconds { get; set; }

    /// <summary>Default bucket on or off.</summary>
    [JsonPropertyName("realtimekit_bucket_config")]
    public BucketConfig? RealtimeKitBucketConfig { get; set; }

    /// <summary>Storage destination.</summary>
    public StorageConfig? StorageConfig { get; set; }
}
