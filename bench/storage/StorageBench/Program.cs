using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Capstan.Server.Storage;

namespace Capstan.Bench.Storage;

/// <summary>
/// Upload throughput of one large file to each local storage server, as a ratio to a plain file copy on the same
/// disk in the same run, and this process's memory during each upload (uploads must stream, not buffer).
/// <list type="number">
/// <item>Writes one file of random bytes (<c>--size-mb</c>, MiB) into a temp folder under <c>/tmp</c>, the disk
/// the servers keep their data on (s3rver, Azurite and the GCS emulator under <c>/tmp</c>, sshd's chroot under
/// <c>/srv</c>: the filesystems are printed).</item>
/// <item>Times <see cref="File.Copy(string, string, bool)"/> of it (the kernel copies: no reflink on ext4), three
/// times before the uploads and three times after them; the ratio base is the median of the six.</item>
/// <item>Per destination type: starts its server with the storage tests' fixture, builds the destination with
/// <see cref="StorageDestinations"/> (server defaults: parts above 16 MiB, 8 MiB parts; the endpoint override for
/// aws and gcs), uploads a 24 MiB warm-up file (the part path, JIT and connections warm), then <c>--runs</c>
/// measured uploads (median time, highest memory), each read back (size and SHA-256) and deleted; then stops
/// the server.</item>
/// <item>Before each timed step: <c>sync</c> and <c>echo 3 &gt; /proc/sys/vm/drop_caches</c> (as root), so
/// every step reads the file from disk and starts without the previous step's dirty pages.</item>
/// </list>
/// Prints figures, not a verdict; the exit code is non-zero only when the benchmark itself could not run.
/// </summary>
public static class Program
{
    private const long MiB = 1024 * 1024;
    private const int CopiesEachSide = 3;
    private static readonly string[] AllTypes = ["aws", "azure", "gcs", "sftp"];

    public static async Task<int> Main(string[] args)
    {
        var sizeMb = 500;
        var runs = 3;
        var budget = TimeSpan.FromSeconds(420);
        var types = AllTypes;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--size-mb" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n >= 25:
                    sizeMb = n;
                    i++;
                    break;
                case "--runs" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var r) && r is >= 1 and <= 9:
                    runs = r;
                    i++;
                    break;
                case "--budget-s" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var b) && b >= 30:
                    budget = TimeSpan.FromSeconds(b);
                    i++;
                    break;
                case "--types" when i + 1 < args.Length:
                    types = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                default:
                    Console.Error.WriteLine("usage: Capstan.Bench.Storage [--size-mb N (>= 25, default 500)] [--runs N (1-9, default 3)] [--budget-s N (default 420)] [--types aws,azure,gcs,sftp]");
                    return 2;
            }
        }
        foreach (var t in types)
        {
            if (!AllTypes.Contains(t))
            {
                Console.Error.WriteLine($"unknown type '{t}' (aws, azure, gcs, sftp)");
                return 2;
            }
        }

        using var cts = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // finish through the finally blocks: servers stopped, the SFTP user removed
            Console.Error.WriteLine($"storage benchmark: {context.Signal}, stopping");
            cts.Cancel();
        }

        var work = Directory.CreateTempSubdirectory("capstan-bench-storage-").FullName;
        try
        {
            return await RunAsync(sizeMb, runs, budget, types, work, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return 130;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<int> RunAsync(int sizeMb, int runs, TimeSpan budget, string[] types, string work, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var size = sizeMb * MiB;
        var loadBefore = Load();
        Console.WriteLine($"== storage benchmark: {sizeMb} MiB file, {runs} measured upload(s) per destination: {string.Join(", ", types)}");
        Console.WriteLine($"   {Environment.ProcessorCount} cores, .NET {Environment.Version}, GC {(GCSettings.IsServerGC ? "server" : "workstation")}" +
            $"{(GCSettings.LatencyMode == GCLatencyMode.Batch ? string.Empty : " concurrent")} (as Capstan.Server, which runs the uploads); MB = MiB");
        Console.WriteLine($"   machine load at start: {loadBefore}");
        Console.WriteLine($"   disks: work {Where(work)}; servers' data {Where(Path.GetTempPath())} and {Where("/srv")}");
        var canDrop = DropCaches();
        Console.WriteLine(canDrop
            ? "   before each timed step: sync; echo 3 > /proc/sys/vm/drop_caches (the file is read from disk every time)"
            : "   page cache NOT dropped (needs root): the file may be read from memory");

        var file = Path.Combine(work, $"bench-{sizeMb}mb.mp4");
        var clock = Stopwatch.StartNew();
        await WriteRandomAsync(file, size, ct);
        var item = await UploadItem.ForFileAsync(file, "unused", ct);
        var warmFile = Path.Combine(work, "warm-up.mp4");
        await WriteRandomAsync(warmFile, 24 * MiB, ct);
        var warm = await UploadItem.ForFileAsync(warmFile, "unused", ct);
        Console.WriteLine($"   wrote {file} ({size} bytes, SHA-256 {item.Sha256Hex[..16]}...) in {clock.Elapsed.TotalSeconds:F1} s");

        var copies = new List<double>();
        MeasureCopies("before", file, work, canDrop, copies, size);

        var rows = new List<Row>();
        for (var i = 0; i < types.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            // The time left is shared by the destinations still to come; runs after the first stop when this
            // destination's share would be exceeded (the first run always happens).
            var share = (budget - total.Elapsed) / (types.Length - i);
            rows.Add(await MeasureTargetAsync(types[i], item, warm, runs, share, canDrop, ct));
        }

        MeasureCopies("after", file, work, canDrop, copies, size);
        PrintTable(sizeMb, size, copies, rows);
        Console.WriteLine($"machine load: {loadBefore} at the start; {Load()} at the end (other work on this machine slows the steps " +
            $"unevenly). Whole run: {total.Elapsed.TotalSeconds:F0} s.");
        return 0;
    }

    private static void MeasureCopies(string when, string file, string work, bool canDrop, List<double> into, long size)
    {
        var line = new List<string>();
        for (var i = 0; i < CopiesEachSide; i++)
        {
            var target = Path.Combine(work, "copy.mp4");
            if (canDrop)
            {
                DropCaches();
            }
            var clock = Stopwatch.StartNew();
            File.Copy(file, target, overwrite: true);
            var seconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            Sync();
            var sync = clock.Elapsed.TotalSeconds;
            File.Delete(target);
            into.Add(seconds);
            line.Add($"{Fmt(seconds)} s ({size / MiB / seconds:F0} MB/s; then sync {Fmt(sync)} s)");
        }
        Console.WriteLine($"== File.Copy {when} the uploads: {string.Join(", ", line)}");
    }

    private sealed class Run
    {
        public double Seconds { get; set; }
        public double CpuSeconds { get; set; }
        public long BaselineRss { get; set; }
        public long PeakRss { get; set; }
        public long BaselineHeap { get; set; }
        public long PeakHeap { get; set; }
        public long Allocated { get; set; }
        public int Samples { get; set; }
        public bool Uploaded { get; set; }
        public string? ReadBack { get; set; }
        public bool ReadBackOk { get; set; }
        public double ReadBackSeconds { get; set; }

        public long ExtraRss => PeakRss - BaselineRss;
    }

    private sealed class Row(string type, string server)
    {
        public string Type { get; } = type;
        public string Server { get; } = server;
        public long RssBeforeWarmUp { get; set; }
        public List<Run> Runs { get; } = [];
        public string? Deviation { get; set; }
        public string? Cut { get; set; }
        public string? Error { get; set; }

        public IEnumerable<Run> Uploaded => Runs.Where(r => r.Uploaded);
    }

    private static async Task<Row> MeasureTargetAsync(string type, UploadItem file, UploadItem warm, int runs, TimeSpan share, bool canDrop, CancellationToken ct)
    {
        var spent = Stopwatch.StartNew();
        await using var target = Target.For(type);
        var row = new Row(type, target.Server) { Deviation = target.Deviation(file.Size) };
        Console.WriteLine($"== {type} ({target.Server})");
        var stepTimeout = TimeSpan.FromSeconds(Math.Max(60, file.Size / MiB * 0.6)); // at least ~1.7 MB/s
        try
        {
            var clock = Stopwatch.StartNew();
            await target.StartAsync().WaitAsync(TimeSpan.FromMinutes(3), ct);
            Console.WriteLine($"   server up in {clock.Elapsed.TotalSeconds:F1} s");
            var config = target.Config();
            var options = target.Options(file.Size);
            await using var destination = new StorageDestinations(Microsoft.Extensions.Options.Options.Create(options)).Create(config);

            MemorySampler.Settle();
            row.RssBeforeWarmUp = MemorySampler.Rss();
            using (var timeout = Linked(ct, stepTimeout))
            {
                var warmItem = warm with { Key = ObjectKeys.For(config, $"warm-up-{Guid.NewGuid():N}.mp4") };
                await destination.UploadAsync(warmItem, timeout.Token);
                await destination.DeleteAsync(warmItem.Key, timeout.Token);
            }

            var lastRun = TimeSpan.Zero;
            for (var i = 1; i <= runs; i++)
            {
                if (i > 1 && spent.Elapsed + lastRun > share)
                {
                    row.Cut = $"{i - 1} of {runs} runs: the time budget's share for {type} ({share.TotalSeconds:F0} s) was used";
                    Console.WriteLine($"   {row.Cut}");
                    break;
                }
                var runClock = Stopwatch.StartNew();
                var run = new Run();
                row.Runs.Add(run);
                var item = file with { Key = ObjectKeys.For(config, $"bench-{Guid.NewGuid():N}.mp4") };
                if (canDrop)
                {
                    DropCaches();
                }
                using (var timeout = Linked(ct, stepTimeout))
                using (var memory = MemorySampler.Start())
                {
                    var cpu = Cpu.Used();
                    var allocated = GC.GetTotalAllocatedBytes(precise: true);
                    clock.Restart();
                    try
                    {
                        await destination.UploadAsync(item, timeout.Token);
                        run.Uploaded = true;
                    }
                    finally
                    {
                        run.Seconds = clock.Elapsed.TotalSeconds;
                        memory.Stop();
                        run.CpuSeconds = (Cpu.Used() - cpu).TotalSeconds;
                        run.Allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
                        run.BaselineRss = memory.BaselineRss;
                        run.PeakRss = memory.PeakRss;
                        run.BaselineHeap = memory.BaselineHeap;
                        run.PeakHeap = memory.PeakHeap;
                        run.Samples = memory.Samples;
                    }
                }
                await ReadBackAndDeleteAsync(destination, item, run, Linked(ct, stepTimeout));
                Console.WriteLine($"   run {i}: {Fmt(run.Seconds)} s = {file.Size / MiB / run.Seconds:F1} MB/s, extra RSS {Mb(run.ExtraRss)} MB, " +
                    $"read back {run.ReadBack} ({Fmt(run.ReadBackSeconds)} s)");
                lastRun = runClock.Elapsed;
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            row.Error = (type == "gcs" && !row.Uploaded.Any() ? "not measurable with this emulator: " : string.Empty) + Describe(e);
            Console.WriteLine($"   FAILED: {row.Error}");
        }
        return row;
    }

    private static async Task ReadBackAndDeleteAsync(IStorageDestination destination, UploadItem item, Run run, CancellationTokenSource timeout)
    {
        using (timeout)
        {
            var clock = Stopwatch.StartNew();
            long length = 0;
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var back = await destination.OpenReadAsync(item.Key, timeout.Token))
            {
                var buffer = new byte[1 << 20];
                int n;
                while ((n = await back.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    length += n;
                    sha.AppendData(buffer, 0, n);
                }
            }
            var hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            run.ReadBackSeconds = clock.Elapsed.TotalSeconds;
            run.ReadBackOk = length == item.Size && hash == item.Sha256Hex;
            run.ReadBack = run.ReadBackOk
                ? $"{length} bytes, SHA-256 ok"
                : $"MISMATCH: {length} bytes (expected {item.Size}), SHA-256 {(hash == item.Sha256Hex ? "ok" : "differs")}";
            await destination.DeleteAsync(item.Key, timeout.Token);
        }
    }

    private static CancellationTokenSource Linked(CancellationToken ct, TimeSpan after)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(after);
        return cts;
    }

    private static string Describe(Exception e)
    {
        var text = $"{e.GetType().Name}: {e.Message}";
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += $" <- {inner.GetType().Name}: {inner.Message}";
        }
        text = text.ReplaceLineEndings(" ");
        return text.Length > 600 ? text[..600] + "..." : text;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static void PrintTable(int sizeMb, long size, List<double> copies, List<Row> rows)
    {
        var copySeconds = Median(copies);
        var copyRate = size / MiB / copySeconds;
        Console.WriteLine();
        Console.WriteLine($"== results: {sizeMb} MiB file; ratio base: plain File.Copy on the same disk, median of {copies.Count} " +
            $"({Fmt(copies.Min())}-{Fmt(copies.Max())} s) = {Fmt(copySeconds)} s, {copyRate:F1} MB/s");
        var header = new[] { "destination", "seconds", "MB/s", "ratio to copy", "peak extra RSS MB", "peak managed heap MB", "allocated MB", "CPU s", "read back" };
        var lines = new List<string[]> { header };
        lines.Add(["copy (File.Copy)", Fmt(copySeconds), copyRate.ToString("F1", CultureInfo.InvariantCulture), "1.00", "-", "-", "-", "-", "-"]);
        foreach (var r in rows)
        {
            var name = $"{r.Type} ({r.Server}){(r.Deviation is null ? string.Empty : " *")}";
            var done = r.Uploaded.ToList();
            if (done.Count == 0)
            {
                lines.Add([name, "-", "-", "-", "-", "-", "-", "-", "not measured"]);
                continue;
            }
            var seconds = Median(done.Select(x => x.Seconds));
            var rate = size / MiB / seconds;
            var worst = done.MaxBy(x => x.ExtraRss)!;
            var heap = done.MaxBy(x => x.PeakHeap)!;
            lines.Add([name, Fmt(seconds), rate.ToString("F1", CultureInfo.InvariantCulture),
                (rate / copyRate).ToString("F2", CultureInfo.InvariantCulture),
                Mb(worst.ExtraRss),
                $"{Mb(heap.PeakHeap)} (+{Mb(Math.Max(0, heap.PeakHeap - heap.BaselineHeap))})",
                Mb(done.Max(x => x.Allocated)), Fmt(Median(done.Select(x => x.CpuSeconds))),
                done.All(x => x.ReadBackOk) ? "ok" : "MISMATCH"]);
        }
        var widths = Enumerable.Range(0, header.Length).Select(c => lines.Max(l => l[c].Length)).ToArray();
        for (var i = 0; i < lines.Count; i++)
        {
            Console.WriteLine(string.Join("  ", lines[i].Select((cell, c) => c == 0 || c == header.Length - 1 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
            if (i == 0)
            {
                Console.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }
        Console.WriteLine();
        Console.WriteLine("MB = MiB. seconds, MB/s: median over the runs of UploadAsync alone (including the destination's own check of");
        Console.WriteLine("what arrived; the file's SHA-256 is computed beforehand, as the recorder does). peak extra RSS: the highest VmRSS");
        Console.WriteLine("during an upload (sampled every 100 ms, and the kernel's VmHWM) minus VmRSS just before it, after a full");
        Console.WriteLine("collection; the worst run. peak managed heap: GC.GetTotalMemory during the upload (+ above its value before).");
        Console.WriteLine("allocated: managed bytes allocated during the upload. CPU: this process (user + system), median.");
        Console.WriteLine("read back: every uploaded object was downloaded again and its size and SHA-256 compared, then deleted.");
        foreach (var r in rows)
        {
            var done = r.Uploaded.ToList();
            if (done.Count > 0)
            {
                var worst = done.MaxBy(x => x.ExtraRss)!;
                Console.WriteLine($"- {r.Type}: runs {string.Join(", ", r.Runs.Select(x => Fmt(x.Seconds) + " s"))}; RSS {Mb(r.RssBeforeWarmUp)} MB before the warm-up, " +
                    $"{Mb(worst.BaselineRss)} MB before the upload, {Mb(worst.PeakRss)} MB peak ({worst.Samples} samples): extra RSS = " +
                    $"{100.0 * worst.ExtraRss / size:F1}% of the file");
            }
            if (r.Cut is not null)
            {
                Console.WriteLine($"- {r.Type}: {r.Cut}");
            }
            if (r.Deviation is not null)
            {
                Console.WriteLine($"- {r.Type} *: {r.Deviation}");
            }
            if (r.Error is not null)
            {
                Console.WriteLine($"- {r.Type}: {r.Error}");
            }
        }
    }

    /// <summary>"loadavg 1.20 (1 min), CPU pressure 35% (some, 60 s)" from /proc.</summary>
    private static string Load()
    {
        var text = "loadavg " + File.ReadAllText("/proc/loadavg").Split(' ')[0] + $" (1 min, {Environment.ProcessorCount} cores)";
        try
        {
            var some = File.ReadLines("/proc/pressure/cpu").FirstOrDefault(l => l.StartsWith("some", StringComparison.Ordinal));
            var avg60 = some?.Split(' ').FirstOrDefault(f => f.StartsWith("avg60=", StringComparison.Ordinal));
            if (avg60 is not null)
            {
                text += $", CPU pressure {avg60["avg60=".Length..]}% (some, 60 s)";
            }
        }
        catch (IOException)
        {
            // no PSI in this kernel
        }
        return text;
    }

    private static string Fmt(double seconds) => seconds.ToString("F2", CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => (bytes / (double)MiB).ToString("F1", CultureInfo.InvariantCulture);

    private static async Task WriteRandomAsync(string path, long size, CancellationToken ct)
    {
        var random = new Random(20240601);
        var buffer = new byte[4 * MiB];
        await using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        for (long written = 0; written < size; written += buffer.Length)
        {
            random.NextBytes(buffer);
            await f.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)), ct);
        }
        f.Flush(flushToDisk: true);
    }

    /// <summary>Writes dirty pages out, then drops the page cache (root only). False when it cannot.</summary>
    private static bool DropCaches()
    {
        Sync();
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Sync()
    {
        using var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })
            ?? throw new InvalidOperationException("sync did not start");
        sync.WaitForExit();
    }

    /// <summary>The filesystem a path is on ("/dev/vda ext4 /"), from df.</summary>
    private static string Where(string path)
    {
        try
        {
            var start = new ProcessStartInfo("df") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--output=source,fstype,target", path })
            {
                start.ArgumentList.Add(a);
            }
            using var df = Process.Start(start)!;
            var lines = df.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            df.WaitForExit();
            return $"{path} on " + (lines.Length > 1 ? string.Join(' ', lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)) : "?");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return path;
        }
    }
}
