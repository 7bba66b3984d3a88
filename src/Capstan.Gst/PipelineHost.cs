using System.Runtime.InteropServices;

namespace Capstan.Gst;

/// <summary>What the child processes that host one pipeline each (the server's <c>CaptureHost</c>,
/// <see cref="Compositor.CompositorHost"/>) share: their stdout (one line at a time, from any thread), the stop
/// signals (SIGINT, SIGTERM), each grabbed frame announced as gst-launch's <c>-v</c> prints it, and the run of the
/// pipeline until it errors, ends, or is stopped (then end-of-stream, waited for, as <c>gst-launch -e</c> does).</summary>
public sealed class PipelineHost : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TextWriter _output = Console.Out;
    private List<string>? _held; // grab lines held back (HoldGrabs)
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;

    public PipelineHost()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Set by SIGINT, SIGTERM or <see cref="Stop"/>.</summary>
    public ManualResetEventSlim Stopping { get; } = new();

    public void Stop() => Stopping.Set();

    /// <summary>One line on stdout, flushed.</summary>
    public void Say(string line)
    {
        lock (_gate)
        {
            _output.WriteLine(line);
            _output.Flush();
        }
    }

    /// <summary>Holds the grab lines back from now on (<see cref="ReleaseGrabs"/> says or drops them): the frames of a
    /// pipeline that may yet be built again, whose running time would start anew.</summary>
    public void HoldGrabs()
    {
        lock (_gate)
        {
            _held ??= [];
        }
    }

    /// <summary>Ends <see cref="HoldGrabs"/>: the lines held are said (<paramref name="say"/>) or dropped, and the
    /// next are said as they come.</summary>
    public void ReleaseGrabs(bool say)
    {
        lock (_gate)
        {
            if (say)
            {
                foreach (var line in _held ?? [])
                {
                    _output.WriteLine(line);
                }
                _output.Flush();
            }
            _held = null;
        }
    }

    private void SayGrab(string line)
    {
        lock (_gate)
        {
            if (_held is { } held)
            {
                held.Add(line);
                return;
            }
        }
        Say(line);
    }

    /// <summary>Prints every frame passing the element <c>grab</c>'s source pad as a grab line
    /// (<see cref="GstArgs.FormatGrabLine"/>); with <paramref name="withInstant"/>, after a line with the
    /// wall-clock instant it passed (<see cref="GstArgs.FormatGrabbedAt"/>).</summary>
    public void AnnounceGrabs(GstElement pipeline, bool withInstant)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        using var grab = pipeline.Get("grab");
        // The frame's time is taken from a probe; identity's own message per buffer is not needed.
        grab.Set("silent", "true");
        using var pad = grab.StaticPad("src");
        pad.OnBuffer(pts =>
        {
            if (pts < 0)
            {
                return;
            }
            if (withInstant)
            {
                SayGrab(GstArgs.FormatGrabbedAt(DateTime.UtcNow, pts));
            }
            SayGrab(GstArgs.FormatGrabLine(pts));
        });
    }

    /// <summary>Reads the bus of a playing pipeline until an error (<c>error SOURCE: TEXT</c> on stdout, exit code 1),
    /// its end (0) or <see cref="Stopping"/>: then end-of-stream, waited for at most <paramref name="eosWait"/>, so
    /// that the file is finished (0). The pipeline is set to NULL either way. End-of-stream goes into the sources
    /// (as <c>gst-launch -e</c> does) unless <paramref name="endOfStream"/> sends it elsewhere. <paramref name="health"/>,
    /// asked about ten times a second while the pipeline runs, ends it as an error when it answers what is wrong
    /// (<c>error TEXT</c>, exit code 1, no end-of-stream: the file is left as a killed capture's).</summary>
    public int RunUntilStopped(GstElement pipeline, GstBus bus, TimeSpan eosWait, Action? endOfStream = null, Func<string?>? health = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(bus);
        while (!Stopping.IsSet)
        {
            if (health?.Invoke() is { } wrong)
            {
                Say("error " + wrong);
                pipeline.SetState(GstState.Null);
                return 1;
            }
            if (bus.Pop(TimeSpan.FromMilliseconds(100)) is not { } m)
            {
                continue;
            }
            switch (m.Kind)
            {
                case GstMessageKind.Error:
                    Say($"error {m.Source}: {m.Text}");
                    pipeline.SetState(GstState.Null);
                    return 1;
                case GstMessageKind.Warning:
                    Console.Error.WriteLine($"warning {m.Source}: {m.Text}");
                    break;
                case GstMessageKind.Eos:
                    pipeline.SetState(GstState.Null);
                    return 0;
            }
        }
        // On stderr (the segment's log), how the stop went: a capture stopped by a kill loses its file's tail.
        var asked = Environment.TickCount64;
        Console.Error.WriteLine($"stop asked at {(pipeline.RunningTime() is { } at ? (at / 1e9).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture) : "?")} s");
        if (endOfStream is null)
        {
            pipeline.SendEos();
        }
        else
        {
            endOfStream();
        }
        var sent = Environment.TickCount64;
        var deadline = sent + (long)eosWait.TotalMilliseconds;
        var ended = "no end-of-stream";
        while (Environment.TickCount64 < deadline)
        {
            if (bus.Pop(TimeSpan.FromMilliseconds(100)) is { Kind: GstMessageKind.Eos or GstMessageKind.Error } m)
            {
                ended = m.Kind == GstMessageKind.Eos ? "end-of-stream" : $"error {m.Source}: {m.Text}";
                break;
            }
        }
        var done = Environment.TickCount64;
        pipeline.SetState(GstState.Null);
        Console.Error.WriteLine($"stopped: end sent {sent - asked} ms after the stop, {ended} {done - sent} ms later, NULL in {Environment.TickCount64 - done} ms");
        return 0;
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        Stopping.Dispose();
    }

    private void OnSignal(PosixSignalContext c)
    {
        c.Cancel = true;
        Stopping.Set();
    }
}
