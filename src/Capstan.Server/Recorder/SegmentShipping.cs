using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>An object in the shared store of shipped segment pieces: its key (relative to the recording's folder
/// there) and size.</summary>
public sealed record ShippedObject(string Name, long Size);

/// <summary>Shared storage for the pieces of capture segments shipped while a recording runs, so that a node that
/// takes a job over (another machine, another data folder) finds what the lost node captured. Keys are
/// <c>{recording}/{name}</c>; a put is whole or absent (never half an object under its name).</summary>
public interface ISegmentStore
{
    /// <summary>Names the store in logs, without secrets.</summary>
    string Description { get; }

    Task PutAsync(Guid recordingId, string name, string localFile, CancellationToken ct);

    Task<IReadOnlyList<ShippedObject>> ListAsync(Guid recordingId, CancellationToken ct);

    Task GetAsync(Guid recordingId, string name, string localFile, CancellationToken ct);

    /// <summary>Removes every object of the recording (its files are delivered, or it was cancelled).</summary>
    Task DeleteAsync(Guid recordingId, CancellationToken ct);
}

/// <summary><c>Recorder:SpoolStore</c>: a folder every node mounts (NFS, a shared disk). Each piece is written under
/// a temporary name and renamed, so a reader never sees half of one.</summary>
public sealed class DirectorySegmentStore(string root) : ISegmentStore
{
    public string Root { get; } = Path.GetFullPath(root);

    public string Description => "spool store " + Root;

    private string DirOf(Guid recordingId) => Path.Combine(Root, recordingId.ToString("D"));

    public async Task PutAsync(Guid recordingId, string name, string localFile, CancellationToken ct)
    {
        var dir = DirOf(recordingId);
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, SafeName(name));
        var tmp = target + "." + Guid.NewGuid().ToString("N")[..8] + ".part";
        await using (var input = new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 81920, FileOptions.Asynchronous))
        await using (var output = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
        {
            await input.CopyToAsync(output, ct);
            await output.FlushAsync(ct);
        }
        File.Move(tmp, target, overwrite: true);
    }

    public Task<IReadOnlyList<ShippedObject>> ListAsync(Guid recordingId, CancellationToken ct)
    {
        var dir = DirOf(recordingId);
        IReadOnlyList<ShippedObject> found = Directory.Exists(dir)
            ? new DirectoryInfo(dir).GetFiles().Where(f => !f.Name.EndsWith(".part", StringComparison.Ordinal)).Select(f => new ShippedObject(f.Name, f.Length)).ToList()
            : [];
        return Task.FromResult(found);
    }

    public async Task GetAsync(Guid recordingId, string name, string localFile, CancellationToken ct)
    {
        await using var input = new FileStream(Path.Combine(DirOf(recordingId), SafeName(name)), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
        await using var output = new FileStream(localFile, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
        await input.CopyToAsync(output, ct);
    }

    public Task DeleteAsync(Guid recordingId, CancellationToken ct)
    {
        var dir = DirOf(recordingId);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
        return Task.CompletedTask;
    }

    private static string SafeName(string name) =>
        name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name.StartsWith('.')
            ? throw new ArgumentException($"'{name}' is not a piece name", nameof(name))
            : name;
}

/// <summary>The default bucket's S3 bucket (<c>Storage:DefaultBucket:S3</c>), under <c>capstan-segments/{recording}/</c>
/// beside the delivered files: every node already reaches it.</summary>
public sealed class S3SegmentStore(Func<Storage.S3Destination> open, Func<string, string> key, string description) : ISegmentStore
{
    public string Description => description;

    private string Prefix(Guid recordingId) => key($"capstan-segments/{recordingId:D}/");

    public async Task PutAsync(Guid recordingId, string name, string localFile, CancellationToken ct)
    {
        await using var s3 = open();
        await s3.UploadAsync(await Storage.UploadItem.ForFileAsync(localFile, Prefix(recordingId) + name, ct), ct);
    }

    public async Task<IReadOnlyList<ShippedObject>> ListAsync(Guid recordingId, CancellationToken ct)
    {
        await using var s3 = open();
        var prefix = Prefix(recordingId);
        return (await s3.ListAsync(prefix, ct)).Select(o => new ShippedObject(o.Key[prefix.Length..], o.Size)).ToList();
    }

    public async Task GetAsync(Guid recordingId, string name, string localFile, CancellationToken ct)
    {
        await using var s3 = open();
        await using var input = await s3.OpenReadAsync(Prefix(recordingId) + name, ct);
        await using var output = new FileStream(localFile, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
        await input.CopyToAsync(output, ct);
    }

    public async Task DeleteAsync(Guid recordingId, CancellationToken ct)
    {
        await using var s3 = open();
        var prefix = Prefix(recordingId);
        foreach (var o in await s3.ListAsync(prefix, ct))
        {
            await s3.DeleteAsync(o.Key, ct);
        }
    }
}

/// <summary>How a segment file is shipped and put back together. A capture segment (<c>seg_NNNN.mkv</c>, written
/// as it goes by the muxer, unbuffered) is shipped as the bytes appended to it since the last piece, cut every
/// <see cref="RecorderOptions.ShipSeconds"/> and once more when the segment ends: piece <c>k</c> is
/// <c>seg_NNNN.mkv.pKKKKKK.TICKS</c> (TICKS: the segment file's last write, UTC, when the piece was cut). The pieces
/// in order are the file as it was when the last of them was cut: what a killed capture leaves on disk (no duration
/// in the header, clusters of unknown size, which the join reads by its packets already). The timing sidecar
/// (<c>seg_NNNN.mkv.origin</c>) is shipped whole whenever it changes.
/// <para>Decision: a rolling, restart-free scheme rather than cutting the capture into separate files. The capture
/// pipeline (both compositors), its clock and the join stay exactly as they are, so the A/V sync and the file's
/// duration are unchanged by construction; a lost node loses at most the bytes of the piece in progress (at most
/// <c>ShipSeconds</c> plus the muxer's last cluster).</para></summary>
public static partial class ShippedPieces
{
    public static string PieceName(string segment, int index, DateTime lastWrite) =>
        string.Create(CultureInfo.InvariantCulture, $"{segment}.p{index:D6}.{lastWrite.Ticks}");

    public static string OriginName(string segment) => segment + ".origin";

    /// <summary>A piece's segment, index and last-write instant (false for anything else).</summary>
    public static bool TryParse(string name, out string segment, out int index, out DateTime lastWrite)
    {
        var m = PieceRegex().Match(name);
        segment = m.Success ? m.Groups[1].Value : string.Empty;
        index = m.Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
        lastWrite = m.Success ? new DateTime(long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), DateTimeKind.Utc) : default;
        return m.Success;
    }

    /// <summary>The usable pieces of each segment: 1, 2, ... without a hole (a piece after a missing one cannot be
    /// placed), by segment name.</summary>
    public static IReadOnlyDictionary<string, List<(string Name, int Index, DateTime LastWrite, long Size)>> BySegment(IEnumerable<ShippedObject> objects)
    {
        var all = new Dictionary<string, List<(string Name, int Index, DateTime LastWrite, long Size)>>(StringComparer.Ordinal);
        foreach (var o in objects)
        {
            if (TryParse(o.Name, out var seg, out var index, out var at))
            {
                (all.TryGetValue(seg, out var list) ? list : all[seg] = []).Add((o.Name, index, at, o.Size));
            }
        }
        foreach (var (seg, list) in all)
        {
            list.Sort((a, b) => a.Index.CompareTo(b.Index));
            var contiguous = list.Select((p, i) => (p, i)).TakeWhile(x => x.p.Index == x.i + 1).Select(x => x.p).ToList();
            all[seg] = contiguous;
        }
        return all.Where(kv => kv.Value.Count > 0).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>Puts back, in <paramref name="dir"/>, every segment the store holds that is not on disk here (the
    /// node that captured it was another machine, or another data folder): its pieces concatenated, its last write
    /// set to the last piece's, and its timing sidecar. Returns the segment files made. Segments already here are
    /// left alone (this node's copy is at least as long).</summary>
    public static async Task<IReadOnlyList<string>> FetchMissingAsync(ISegmentStore store, Guid recordingId, string dir, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        var objects = await store.ListAsync(recordingId, ct);
        var names = objects.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var made = new List<string>();
        foreach (var (seg, pieces) in BySegment(objects).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var target = Path.Combine(dir, seg);
            if (File.Exists(target))
            {
                continue;
            }
            var tmp = target + ".fetch";
            await using (var output = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                var piece = tmp + ".piece";
                foreach (var p in pieces)
                {
                    await store.GetAsync(recordingId, p.Name, piece, ct);
                    await using (var input = new FileStream(piece, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous))
                    {
                        await input.CopyToAsync(output, ct);
                    }
                    File.Delete(piece);
                }
            }
            if (names.Contains(OriginName(seg)))
            {
                await store.GetAsync(recordingId, OriginName(seg), target + ".origin", ct);
            }
            File.Move(tmp, target);
            File.SetLastWriteTimeUtc(target, pieces[^1].LastWrite);
            made.Add(target);
        }
        return made;
    }

    [GeneratedRegex(@"^(seg_\d+\.mkv)\.p(\d{6})\.(\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex PieceRegex();
}

/// <summary>Which shared store this node ships segments to: the default bucket's S3 bucket when one is configured
/// (every node reaches it already), else <c>Recorder:SpoolStore</c>; neither: no shipping (a recording's segments
/// stay on the disk of the node that captures it, as before).</summary>
public sealed class SegmentShipping
{
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;

    public SegmentShipping(IOptions<RecorderOptions> options, DefaultBucket bucket, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bucket);
        Options = options.Value;
        _time = time;
        _loggers = loggers;
        Store = bucket.IsRemote ? bucket.SegmentStore()
            : Options.SpoolStore is { Length: > 0 } spool ? new DirectorySegmentStore(spool)
            : null;
    }

    /// <summary>A store for tests and tools that pick their own.</summary>
    public SegmentShipping(RecorderOptions options, ISegmentStore? store, TimeProvider time, ILoggerFactory loggers)
    {
        Options = options;
        Store = store;
        _time = time;
        _loggers = loggers;
    }

    public RecorderOptions Options { get; }

    /// <summary>Null: no shared store, nothing shipped.</summary>
    public ISegmentStore? Store { get; }

    /// <summary>A shipper for one recording's segments (null when there is no store).</summary>
    public SegmentShipper? For(Guid recordingId) =>
        Store is { } store ? new SegmentShipper(store, recordingId, TimeSpan.FromSeconds(Options.ShipSeconds), _time, _loggers.CreateLogger<SegmentShipper>()) : null;
}

/// <summary>Ships one recording's segments while they are written, in the background (its own loop: the capture
/// never waits for it): every <c>ShipSeconds</c>, and at once when a segment ends, the bytes appended to each
/// segment since its last piece become the next piece (kept under <c>ship/</c> until stored), and the timing sidecar
/// goes up when it changed. A failed put is retried, the same piece under the same name, with a backoff from 1 s
/// doubling up to <c>ShipSeconds</c>; later pieces wait behind it, so what is stored is always a prefix.</summary>
public sealed partial class SegmentShipper : IAsyncDisposable
{
    private readonly ISegmentStore _store;
    private readonly Guid _recordingId;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<Tracked> _segments = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _pass = new(1, 1);
    private Task? _loop;
    private TimeSpan _backoff = TimeSpan.Zero;
    private bool _stopped;
    private bool _disposed;

    internal SegmentShipper(ISegmentStore store, Guid recordingId, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _store = store;
        _recordingId = recordingId;
        _interval = interval;
        _time = time;
        _logger = logger;
    }

    public ISegmentStore Store => _store;

    private int _waits;

    /// <summary>How many times the loop has started waiting for its next turn (its timer set): for the tests, which
    /// move a fake clock only once the loop waits on it.</summary>
    internal int Waits => Volatile.Read(ref _waits);

    /// <summary>Pieces stored so far (all segments).</summary>
    public int PiecesShipped { get; private set; }

    private sealed class Tracked(string path)
    {
        public string Path { get; } = path;

        public long Offset { get; set; }

        public int Next { get; set; } = 1;

        public bool Closed { get; set; }

        public string? OriginShipped { get; set; }

        /// <summary>Pieces cut and not yet stored, in order: (local file, name).</summary>
        public Queue<(string File, string Name)> Pending { get; } = new();
    }

    /// <summary>Starts shipping <paramref name="segment"/> (a capture is writing it), from <paramref name="offset"/>
    /// bytes already stored as pieces 1 to <paramref name="stored"/> (a node that takes its own recording back).</summary>
    public void Track(string segment, long offset = 0, int stored = 0)
    {
        lock (_gate)
        {
            if (_stopped || _segments.Any(s => s.Path == segment))
            {
                return;
            }
            _segments.Add(new Tracked(segment) { Offset = offset, Next = stored + 1 });
            _loop ??= Task.Run(() => LoopAsync(_stop.Token));
        }
    }

    /// <summary>The segment ended (its file and sidecar are complete): its last piece is cut now.</summary>
    public void Close(string segment)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }
            foreach (var s in _segments.Where(s => s.Path == segment))
            {
                s.Closed = true;
            }
            _wake.Release();
        }
    }

    /// <summary>Resumes shipping what an earlier run of the job left on disk here beyond what the store holds (it was
    /// killed before its last pieces went up): each such segment, already ended, is tracked from the stored bytes.</summary>
    public async Task ResumeAsync(IEnumerable<string> segments, CancellationToken ct)
    {
        var stored = ShippedPieces.BySegment(await _store.ListAsync(_recordingId, ct));
        foreach (var seg in segments)
        {
            var pieces = stored.GetValueOrDefault(Path.GetFileName(seg)) ?? [];
            var bytes = pieces.Sum(p => p.Size);
            if (new FileInfo(seg).Length > bytes || pieces.Count == 0)
            {
                Track(seg, bytes, pieces.Count);
                Close(seg);
            }
        }
    }

    /// <summary>One pass: cuts and stores what is new. Internal for the tests; the loop calls it.</summary>
    internal async Task PassAsync(CancellationToken ct)
    {
        await _pass.WaitAsync(ct);
        try
        {
            List<Tracked> segments;
            lock (_gate)
            {
                segments = [.. _segments];
            }
            foreach (var s in segments)
            {
                bool closed;
                lock (_gate)
                {
                    closed = s.Closed;
                }
                await CutAsync(s, ct);
                while (s.Pending.TryPeek(out var piece))
                {
                    await _store.PutAsync(_recordingId, piece.Name, piece.File, ct);
                    File.Delete(piece.File);
                    s.Pending.Dequeue();
                    PiecesShipped++;
                    LogShipped(_logger, piece.Name, _store.Description);
                }
                var origin = s.Path + ".origin";
                if (File.Exists(origin) && await File.ReadAllTextAsync(origin, ct) is var text && text != s.OriginShipped)
                {
                    await _store.PutAsync(_recordingId, ShippedPieces.OriginName(Path.GetFileName(s.Path)), origin, ct);
                    s.OriginShipped = text;
                }
                if (closed && s.Pending.Count == 0)
                {
                    lock (_gate)
                    {
                        _segments.Remove(s);
                    }
                }
            }
            _backoff = TimeSpan.Zero;
        }
        finally
        {
            _pass.Release();
        }
    }

    /// <summary>The bytes appended to the segment since its last piece, copied aside as the next piece.</summary>
    private async Task CutAsync(Tracked s, CancellationToken ct)
    {
        if (!File.Exists(s.Path))
        {
            return;
        }
        var lastWrite = File.GetLastWriteTimeUtc(s.Path);
        await using var input = new FileStream(s.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, FileOptions.Asynchronous);
        var length = input.Length;
        if (length <= s.Offset)
        {
            return;
        }
        var dir = Path.Combine(Path.GetDirectoryName(s.Path)!, "ship");
        Directory.CreateDirectory(dir);
        var name = ShippedPieces.PieceName(Path.GetFileName(s.Path), s.Next, lastWrite);
        var file = Path.Combine(dir, name);
        input.Seek(s.Offset, SeekOrigin.Begin);
        await using (var output = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
        {
            var buffer = new byte[81920];
            var left = length - s.Offset;
            while (left > 0)
            {
                var n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct);
                if (n == 0)
                {
                    break;
                }
                await output.WriteAsync(buffer.AsMemory(0, n), ct);
                left -= n;
            }
        }
        s.Pending.Enqueue((file, name));
        s.Offset = length;
        s.Next++;
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // Every interval, or at once when a segment ends (after a failure: the backoff).
                using (var timer = new CancellationTokenSource(_backoff > TimeSpan.Zero ? _backoff : _interval, _time))
                using (var either = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token))
                {
                    Interlocked.Increment(ref _waits);
                    try
                    {
                        await _wake.WaitAsync(either.Token);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        // the interval passed
                    }
                }
                await PassAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or Storage.StorageException or UnauthorizedAccessException or HttpRequestException or TimeoutException or OperationCanceledException)
            {
                _backoff = _backoff == TimeSpan.Zero ? TimeSpan.FromSeconds(1) : TimeSpan.FromTicks(Math.Min(_interval.Ticks, _backoff.Ticks * 2));
                LogFailed(_logger, _store.Description, _backoff.TotalSeconds, e.Message);
            }
        }
    }

    /// <summary>Ships what is left (the ended segments' last pieces), for at most <paramref name="bound"/>, then
    /// stops the loop. What could not go up in that time stays on this node's disk.</summary>
    public async Task FlushAsync(TimeSpan bound)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }
            _stopped = true;
        }
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        using var timeout = new CancellationTokenSource(bound, _time);
        try
        {
            await PassAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or Storage.StorageException or UnauthorizedAccessException or HttpRequestException or TimeoutException or OperationCanceledException)
        {
            LogFailed(_logger, _store.Description, 0, e.Message);
        }
    }

    /// <summary>Stops the loop (what is not stored yet stays on disk); idempotent (a late <see cref="Close"/> finds
    /// the shipper stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = _stopped = true;
        }
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        await _pass.WaitAsync(); // a flush still running
        _stop.Dispose();
        _wake.Dispose();
        _pass.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Shipped {Piece} to {Store}")]
    private static partial void LogShipped(ILogger logger, string piece, string store);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shipping segments to {Store} failed, retrying in {Seconds} s: {Reason}")]
    private static partial void LogFailed(ILogger logger, string store, double seconds, string reason);
}
