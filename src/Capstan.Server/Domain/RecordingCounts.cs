using System.Collections.Concurrent;

namespace Capstan.Server.Domain;

/// <summary>A short-lived cache of list <c>total_count</c>s. Counting every match of a filter over a large table
/// costs milliseconds per page; a count is reused for <see cref="Ttl"/> unless a recording changed in this
/// process since (every insert and status change bumps <see cref="Invalidate"/>). On several nodes a count may
/// lag another node's writes by at most <see cref="Ttl"/>.</summary>
public sealed class RecordingCounts(TimeProvider time)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, (long Version, DateTimeOffset At, long Count)> _counts = new();
    private long _version;

    public void Invalidate() => Interlocked.Increment(ref _version);

    public async Task<long> GetAsync(string key, Func<Task<long>> count)
    {
        ArgumentNullException.ThrowIfNull(count);
        var version = Interlocked.Read(ref _version);
        var now = time.GetUtcNow();
        if (_counts.TryGetValue(key, out var hit) && hit.Version == version && now - hit.At < Ttl)
        {
            return hit.Count;
        }
        var value = await count();
        if (_counts.Count > 10_000)
        {
            _counts.Clear();
        }
        _counts[key] = (version, now, value);
        return value;
    }
}
