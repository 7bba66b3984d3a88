namespace Capstan.Contracts;

/// <summary>The RealtimeKit success envelope: <c>{"success": true, "data": ...}</c>.</summary>
public sealed record Envelope<T>(bool Success, T Data);

/// <summary>The list envelope: <c>{"success": true, "data": [...], "paging": {...}}</c>.</summary>
public sealed record PagedEnvelope<T>(bool Success, T Data, Paging Paging);

/// <summary>Paging block: 1-based inclusive offsets, both 0 for an empty page.</summary>
public sealed record Paging(long TotalCount, long StartOffset, long EndOffset);

/// <summary>The RealtimeKit error envelope: <c>{"success": false, "error": {"code": 404, "message": "..."}}</c>.</summary>
public sealed record ErrorEnvelope(bool Success, ErrorBody Error);

public sealed record ErrorBody(int Code, string Message);
