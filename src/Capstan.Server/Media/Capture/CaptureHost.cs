using System.Text.Json;
using Capstan.Gst;

namespace Capstan.Server.Media.Capture;

/// <summary>A capture pipeline held ready (<c>Capstan.Server capture-host</c>, a hidden subcommand): the child
/// process a warm capture surface keeps beside its display and browser (<see cref="Recorder.WarmCapture"/>), so that
/// a recording's capture starts as soon as it is asked for.
/// <para>Measured on this 2-core machine, <c>gst-launch-1.0</c> took 170-200 ms from its start to its first grabbed
/// frame on a quiet machine (loading the libraries and plugins, parsing), and 0.5-0.8 s while a recording's page loads
/// beside it; the host has done that before the recording: it initialises GStreamer, loads the plugins of every
/// element a capture may use (<see cref="Elements"/>), says <c>warm</c>, and waits.</para>
/// <para>Then, on stdin, one line: the capture's gst-launch arguments as a JSON array of strings
/// (<see cref="Recorder.MediaArgs.Capture"/>; gst-launch's own options, the leading words that start with <c>-</c>,
/// are skipped). It builds that pipeline with gst-launch's parser and plays it: the same pipeline, so the file's
/// first frame is the first frame grabbed after the request. Each grabbed frame is printed as gst-launch's
/// <c>-v</c> prints it (<see cref="GstArgs.FormatGrabLine"/>), so one parser follows both, after a line
/// with the wall-clock instant the host saw it at (<see cref="GstArgs.FormatGrabbedAt"/>).</para>
/// <para>SIGINT, SIGTERM or the end of stdin end it: before the pipeline, at once (exit 0); after, end-of-stream,
/// waited for on the bus (10 s at most) so that the file is finished, as <c>gst-launch -e</c> does (exit 0). A
/// pipeline error prints <c>error TEXT</c> and exits 1.</para></summary>
public static class CaptureHost
{
    public const string Command = "capture-host";

    /// <summary>The executable that runs this host: the server's own (beside this assembly when the server is hosted
    /// by another program, as in the tests).</summary>
    public static string DefaultHostPath()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "Capstan.Server");
        return File.Exists(beside) ? beside : Environment.ProcessPath ?? beside;
    }

    /// <summary>Every element <see cref="Recorder.MediaArgs.Capture"/> may put in a pipeline.</summary>
    public static readonly IReadOnlyList<string> Elements =
    [
        "ximagesrc", "identity", "queue", "videoconvert", "videorate", "gdkpixbufoverlay", "x264enc", "h264parse", "vp8enc", "vp9enc",
        "tee", "pulsesrc", "audioconvert", "voaacenc", "aacparse", "vorbisenc", "lamemp3enc", "mpegaudioparse", "mpegtsmux", "udpsink",
        "matroskamux", "filesink", "capsfilter",
    ];

    /// <summary>Runs once, before <c>warm</c>, what the request will run (the JSON read, the parser, a probe, a
    /// grab line), so that none of it is compiled on the way to the first frame: measured, that first use cost
    /// about 70 ms.</summary>
    private static void WarmUp()
    {
        var words = JsonSerializer.Deserialize<string[]>("[\"fakesrc\",\"num-buffers=1\",\"!\",\"identity\",\"name=grab\",\"!\",\"fakesink\"]")!;
        using var p = GstElement.LaunchV(words);
        using (var grab = p.Get("grab"))
        {
            grab.Set("silent", "true");
            using var pad = grab.StaticPad("src");
            pad.OnBuffer(_ => { });
        }
        using var bus = p.Bus();
        p.SetState(GstState.Playing);
        bus.Pop(TimeSpan.FromSeconds(2), GstMessageKind.Eos | GstMessageKind.Error);
        p.SetState(GstState.Null);
        _ = GstArgs.FormatGrabLine(1);
    }

    public static int Run(string[] args)
    {
        _ = args;
        using var host = new PipelineHost();
        var stop = host.Stopping;

        var missing = GstLib.Preload(Elements);
        if (missing.Count > 0)
        {
            Console.Error.WriteLine("warning: no element " + string.Join(", ", missing));
        }
        WarmUp();
        host.Say("warm");

        // The one request, read on a thread of its own so that a signal still ends the wait.
        string? request = null;
        var received = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            request = Console.In.ReadLine();
            received.Set();
            // The end of stdin after the request also ends the capture.
            while (Console.In.ReadLine() is not null)
            {
            }
            stop.Set();
        })
        { IsBackground = true, Name = "stdin" };
        reader.Start();
        WaitHandle.WaitAny([received.WaitHandle, stop.WaitHandle]);
        if (stop.IsSet || request is null)
        {
            return 0;
        }

        GstElement pipeline;
        try
        {
            var words = JsonSerializer.Deserialize<string[]>(request) ?? throw new GstException("no pipeline");
            pipeline = GstElement.LaunchV([.. words.SkipWhile(w => w.StartsWith('-'))]);
        }
        catch (Exception e) when (e is GstException or JsonException)
        {
            host.Say("error " + e.Message);
            return 1;
        }
        using (pipeline)
        {
            // Each frame's wall-clock instant, taken where it passes, ahead of its line: the reader's own arrival time
            // can only be later (a busy reader would make the recording's start look late).
            host.AnnounceGrabs(pipeline, withInstant: true);
            using var bus = pipeline.Bus();
            pipeline.SetState(GstState.Playing);
            return host.RunUntilStopped(pipeline, bus, TimeSpan.FromSeconds(10));
        }
    }
}
