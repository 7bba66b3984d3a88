using System.Diagnostics;
using System.Globalization;
using Capstan.Server.Recorder;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>Segments shipped while they are written (<see cref="SegmentShipper"/>) to the spool store
/// (<c>Recorder:SpoolStore</c>, a folder the nodes share), and put back by another node, another data folder
/// (<see cref="ShippedPieces.FetchMissingAsync"/>). Real files, a real folder store, and a real GStreamer capture
/// for the file format; time is a <see cref="FakeTimeProvider"/> where the schedule is what is tested.</summary>
public sealed class SegmentShippingTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "capstan-ship-" + Guid.NewGuid().ToString("N"));
    private readonly Guid _recording = Guid.NewGuid();

    public SegmentShippingTests()
    {
        Directory.CreateDirectory(NodeA);
        Directory.CreateDirectory(NodeB);
        Directory.CreateDirectory(Spool);
    }

    private string NodeA => Path.Combine(_root, "a", "recorder", _recording.ToString("D"));

    private string NodeB => Path.Combine(_root, "b", "recorder", _recording.ToString("D"));

    private string Spool => Path.Combine(_root, "spool");

    private static RecorderOptions Options(double shipSeconds = 10) => new() { ShipSeconds = shipSeconds, SpoolStore = null };

    private SegmentShipper Shipper(TimeProvider time, double shipSeconds = 10) =>
        new SegmentShipping(Options(shipSeconds), new DirectorySegmentStore(Spool), time, NullLoggerFactory.Instance).For(_recording)!;

    private static async Task UntilAsync(Func<Task<bool>> condition, string what, double seconds = 10)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed.TotalSeconds < seconds, $"timed out after {seconds} s waiting for: {what}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static Task WaitingAsync(SegmentShipper shipper, int waits) =>
        UntilAsync(() => Task.FromResult(shipper.Waits >= waits), $"the shipper's loop waiting for turn {waits}");

    private async Task<List<string>> StoredAsync() =>
        [.. (await new DirectorySegmentStore(Spool).ListAsync(_recording, TestContext.Current.CancellationToken)).Select(o => o.Name).Order(StringComparer.Ordinal)];

    private static async Task AppendAsync(string file, int bytes, byte fill)
    {
        await using var f = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        await f.WriteAsync(Enumerable.Repeat(fill, bytes).ToArray(), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Segment_IsShippedEveryShipSeconds_AndAtItsEnd_AndAnotherNodePutsTheSameBytesBack()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var seg = Path.Combine(NodeA, "seg_0001.mkv");
        await using var shipper = Shipper(time);
        await AppendAsync(seg, 1000, 1);
        shipper.Track(seg);
        await WaitingAsync(shipper, 1);

        // Nothing goes before the interval: the first piece is cut when ShipSeconds have passed.
        time.Advance(TimeSpan.FromSeconds(9));
        await AppendAsync(seg, 500, 2);
        Assert.Empty(await StoredAsync());
        time.Advance(TimeSpan.FromSeconds(1));
        await UntilAsync(async () => (await StoredAsync()).Count == 1, "the first piece");
        var first = Assert.Single(await StoredAsync());
        Assert.StartsWith("seg_0001.mkv.p000001.", first, StringComparison.Ordinal);
        Assert.Equal(1500, new FileInfo(Path.Combine(Spool, _recording.ToString("D"), first)).Length);

        // The next interval: what the segment gained since.
        await WaitingAsync(shipper, 2);
        await AppendAsync(seg, 700, 3);
        time.Advance(TimeSpan.FromSeconds(10));
        await UntilAsync(async () => (await StoredAsync()).Count == 2, "the second piece");

        // The segment ends (its sidecar written): its last piece and the sidecar go at once, without waiting for the interval.
        await AppendAsync(seg, 300, 4);
        var firstFrame = DateTime.UtcNow.AddSeconds(-25);
        await File.WriteAllTextAsync(seg + ".origin", $"{firstFrame.AddMilliseconds(-40).Ticks} {firstFrame.Ticks}", ct);
        File.SetLastWriteTimeUtc(seg, firstFrame.AddSeconds(20));
        shipper.Close(seg);
        await UntilAsync(async () => (await StoredAsync()).Count == 4, "the last piece and the sidecar");
        Assert.Equal(3, shipper.PiecesShipped);
        Assert.Contains("seg_0001.mkv.origin", await StoredAsync());

        // Node B (another data folder) has none of it: it puts the segment back from the store, byte for byte, with
        // its sidecar, and the last write the last piece was cut at (where a gap opens).
        var made = await ShippedPieces.FetchMissingAsync(new DirectorySegmentStore(Spool), _recording, NodeB, ct);
        var back = Assert.Single(made);
        Assert.Equal(Path.Combine(NodeB, "seg_0001.mkv"), back);
        Assert.Equal(await File.ReadAllBytesAsync(seg, ct), await File.ReadAllBytesAsync(back, ct));
        Assert.Equal(await File.ReadAllTextAsync(seg + ".origin", ct), await File.ReadAllTextAsync(back + ".origin", ct));
        Assert.Equal(firstFrame.AddSeconds(20), File.GetLastWriteTimeUtc(back));
        Assert.Empty(Directory.GetFiles(NodeB, "*.fetch*"));

        // A segment already on disk is left alone (this node's copy is at least as long as the shipped one).
        Assert.Empty(await ShippedPieces.FetchMissingAsync(new DirectorySegmentStore(Spool), _recording, NodeA, ct));
    }

    [Fact]
    public async Task StoreUnavailable_PieceIsRetriedUnderItsName_AndLaterPiecesWaitBehindIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var seg = Path.Combine(NodeA, "seg_0001.mkv");
        await using var shipper = Shipper(time);
        // The recording's folder in the store cannot be made: a file is in its place (a real I/O failure).
        var blocked = Path.Combine(Spool, _recording.ToString("D"));
        await File.WriteAllTextAsync(blocked, "not a folder", TestContext.Current.CancellationToken);
        await AppendAsync(seg, 1000, 1);
        shipper.Track(seg);
        await WaitingAsync(shipper, 1);
        time.Advance(TimeSpan.FromSeconds(10));
        await WaitingAsync(shipper, 2); // failed: the retry waits 1 s
        Assert.Single(Directory.GetFiles(Path.Combine(NodeA, "ship"))); // the first piece, cut and kept
        await AppendAsync(seg, 500, 2);
        // The retry (1 s later) cuts a second piece, which waits behind the first; the next retry is 2 s later.
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitingAsync(shipper, 3);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(NodeA, "ship")).Length);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, shipper.Waits); // not yet
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitingAsync(shipper, 4);
        Assert.Equal(0, shipper.PiecesShipped);
        Assert.Empty(await StoredAsync());

        // The store comes back: both go at the next retry (4 s later), in order, the first with the bytes it was cut with.
        File.Delete(blocked);
        time.Advance(TimeSpan.FromSeconds(4));
        await UntilAsync(async () => (await StoredAsync()).Count == 2, "both pieces stored");
        var stored = await new DirectorySegmentStore(Spool).ListAsync(_recording, TestContext.Current.CancellationToken);
        Assert.Equal([1000L, 500L], stored.OrderBy(o => o.Name, StringComparer.Ordinal).Select(o => o.Size));
        Assert.Empty(Directory.GetFiles(Path.Combine(NodeA, "ship")));
    }

    /// <summary>A worker that takes its own recording back on the same data folder ships what its killed run wrote
    /// after the last stored piece: from the stored bytes on, as the next piece.</summary>
    [Fact]
    public async Task TakenBackOnTheSameFolder_WhatWasNotShippedYet_GoesUpAsTheNextPiece()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var seg = Path.Combine(NodeA, "seg_0001.mkv");
        await using (var killed = Shipper(time))
        {
            await AppendAsync(seg, 800, 1);
            killed.Track(seg);
            await WaitingAsync(killed, 1);
            time.Advance(TimeSpan.FromSeconds(10));
            await UntilAsync(async () => (await StoredAsync()).Count == 1, "the first piece");
        }
        await AppendAsync(seg, 300, 2); // written after the last piece, before the kill

        await using var again = Shipper(time);
        await again.ResumeAsync([seg], ct);
        await UntilAsync(async () => (await StoredAsync()).Count == 2, "the rest, as piece 2");
        Assert.StartsWith("seg_0001.mkv.p000002.", (await StoredAsync())[1], StringComparison.Ordinal);
        var back = Assert.Single(await ShippedPieces.FetchMissingAsync(new DirectorySegmentStore(Spool), _recording, NodeB, ct));
        Assert.Equal(await File.ReadAllBytesAsync(seg, ct), await File.ReadAllBytesAsync(back, ct));

        // Nothing more to ship: a third run tracks nothing.
        await using var third = Shipper(time);
        await third.ResumeAsync([seg], ct);
        Assert.Equal(0, third.Waits);
    }

    [Fact]
    public void Pieces_AfterAMissingOne_AreNotUsed()
    {
        var t = DateTime.UtcNow;
        var pieces = ShippedPieces.BySegment(
        [
            new(ShippedPieces.PieceName("seg_0001.mkv", 1, t), 10), new(ShippedPieces.PieceName("seg_0001.mkv", 2, t), 20),
            new(ShippedPieces.PieceName("seg_0001.mkv", 4, t), 40), new(ShippedPieces.PieceName("seg_0002.mkv", 2, t), 5),
            new("seg_0001.mkv.origin", 30), new("seg_0003.mkv.p000001.x", 1),
        ]);
        Assert.Equal([1, 2], pieces["seg_0001.mkv"].Select(p => p.Index));
        Assert.False(pieces.ContainsKey("seg_0002.mkv")); // its first piece never arrived
        Assert.Single(pieces);
        Assert.True(ShippedPieces.TryParse(ShippedPieces.PieceName("seg_0012.mkv", 7, t), out var name, out var index, out var at));
        Assert.Equal(("seg_0012.mkv", 7, t), (name, index, at));
    }

    /// <summary>Where a node ships: the default bucket's S3 bucket when it is one (every node reaches it already),
    /// else the spool store, else nowhere (no shipper: the capture works as without shipping).</summary>
    [Fact]
    public void Store_IsTheS3DefaultBucket_ElseTheSpoolStore_ElseNone()
    {
        var capstan = new Hosting.CapstanOptions { DataDir = Path.Combine(_root, "data") };
        var protector = new Security.SecretProtector(capstan);
        SegmentShipping Shipping(RemoteBucketOptions? s3, string? spool) => new(
            Microsoft.Extensions.Options.Options.Create(new RecorderOptions { SpoolStore = spool }),
            new DefaultBucket(capstan, Microsoft.Extensions.Options.Options.Create(new DefaultBucketOptions { S3 = s3 }), protector,
                destinations: new Storage.StorageDestinations(Microsoft.Extensions.Options.Options.Create(new Storage.StorageOptions()))),
            TimeProvider.System, NullLoggerFactory.Instance);

        var s3 = Shipping(new RemoteBucketOptions { Bucket = "recordings", Endpoint = "http://127.0.0.1:9", AccessKey = "k", Secret = "s" }, Spool);
        Assert.IsType<S3SegmentStore>(s3.Store);
        Assert.Equal("the default bucket's S3 bucket 'recordings'", s3.Store!.Description);
        var folder = Assert.IsType<DirectorySegmentStore>(Shipping(null, Spool).Store);
        Assert.Equal(Spool, folder.Root);
        var none = Shipping(null, null);
        Assert.Null(none.Store);
        Assert.Null(none.For(_recording));
    }

    [Theory]
    [InlineData(0.5, null, "Recorder:ShipSeconds")]
    [InlineData(61.0, null, "Recorder:ShipSeconds")]
    [InlineData(10.0, "relative/spool", "must be an absolute folder path")]
    [InlineData(10.0, "/nonexistent/capstan-spool", "does not exist")]
    public void Options_AreValidated(double shipSeconds, string? spool, string message)
    {
        var result = new RecorderOptionsValidator().Validate(null, new RecorderOptions { ShipSeconds = shipSeconds, SpoolStore = spool });
        Assert.True(result.Failed);
        Assert.Contains(message, result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new RecorderOptionsValidator().Validate(null, new RecorderOptions { ShipSeconds = 10, SpoolStore = Spool }).Succeeded);
    }

    /// <summary>A real capture segment (GStreamer, the recorder's muxer settings) shipped while it is written and
    /// ended with end-of-stream, which rewrites its header: the pieces put back on another node hold the same packets,
    /// read the way the join reads a segment (by its packets), and the prefix shipped before the end is a readable
    /// segment by itself (what a node lost mid-piece leaves).</summary>
    [Fact]
    public async Task RealCaptureSegment_ShippedWhileWritten_IsTheSamePacketsOnAnotherNode()
    {
        var ct = TestContext.Current.CancellationToken;
        var seg = Path.Combine(NodeA, "seg_0001.mkv");
        await using var shipper = Shipper(TimeProvider.System, shipSeconds: 1);
        var psi = new ProcessStartInfo("gst-launch-1.0") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in ("-e videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=15/1 ! x264enc tune=zerolatency key-int-max=30 ! h264parse ! queue ! mux. "
            + "audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse ! queue ! mux. "
            + "matroskamux name=mux ! filesink buffer-mode=unbuffered").Split(' ').Append("location=" + seg))
        {
            psi.ArgumentList.Add(a);
        }
        using var gst = Process.Start(psi)!;
        try
        {
            await UntilAsync(() => Task.FromResult(File.Exists(seg)), "the capture's file");
            shipper.Track(seg);
            await UntilAsync(async () => (await StoredAsync()).Count >= 3, "three pieces shipped while the capture runs", 20);
            var prefix = Path.Combine(_root, "prefix");
            Directory.CreateDirectory(prefix);
            var early = Assert.Single(await ShippedPieces.FetchMissingAsync(new DirectorySegmentStore(Spool), _recording, prefix, ct));
            var earlySpan = await MediaTools.SpanAsync("/usr/bin/ffprobe", early, ct);
            Assert.True(earlySpan is { Seconds: > 1.5 }, $"the prefix shipped so far holds {earlySpan?.Seconds} s");
        }
        finally
        {
            // End-of-stream (gst-launch -e turns SIGINT into it), as a capture segment ends; killed if it hangs.
            _ = Kill(gst.Id, 2);
            try
            {
                await gst.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct);
            }
            finally
            {
                if (!gst.HasExited)
                {
                    gst.Kill();
                }
            }
        }
        shipper.Close(seg);
        await UntilAsync(async () => Directory.GetFiles(Path.Combine(NodeA, "ship")).Length == 0 && (await StoredAsync()).Count >= 4, "the last piece");
        await shipper.FlushAsync(TimeSpan.FromSeconds(5));

        var back = Assert.Single(await ShippedPieces.FetchMissingAsync(new DirectorySegmentStore(Spool), _recording, NodeB, ct));
        Assert.Equal(new FileInfo(seg).Length, new FileInfo(back).Length);
        Assert.Equal(await PacketsAsync(seg), await PacketsAsync(back));
        var span = await MediaTools.SpanAsync("/usr/bin/ffprobe", back, ct);
        Assert.True(span is { Seconds: > 3 }, $"the segment put back holds {span?.Seconds} s");
    }

    private static async Task<string> PacketsAsync(string file) =>
        await Tool.RunAsync("ffprobe", ["-v", "error", "-show_entries", "packet=stream_index,pts,size", "-of", "csv=p=0", file], ct: TestContext.Current.CancellationToken);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // left for the OS temp cleaner
        }
    }
}
