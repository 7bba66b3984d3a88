using Capstan.Gst;
using System.Text.Json;
using Capstan.Server.Processes;

namespace Capstan.Server.Recorder;

/// <summary>A capture host (<see cref="Media.Capture.CaptureHost"/>) a warm surface keeps ready beside its display,
/// sink and browser: GStreamer initialised and its plugins loaded, waiting for the pipeline of the recording that
/// takes the surface (<see cref="Begin"/>). It runs as the recorder's user, as <c>gst-launch-1.0</c> does.
/// <para>Measured on this 2-core machine, from the request to the first grabbed frame: 32-34 ms quiet and 68-70 ms
/// with both cores busy, where a <c>gst-launch-1.0</c> started then took 200 and 320-400 ms.</para>
/// <para>A host that is not warm when a recording wants it (it failed to start, for example because the recorder's
/// user cannot reach the server's own files, or it is still starting) is not waited for: that segment's capture
/// is a <c>gst-launch-1.0</c>, the same pipeline.</para></summary>
public sealed class WarmCapture : IAsyncDisposable
{
    private readonly TaskCompletionSource _warm = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<string>? _onLine;

    private WarmCapture(Func<Action<string>, ChildProcess> start) => Process = start(OnLine);

    /// <summary>The host process; the recording that <see cref="Begin"/>s it owns it from then on.</summary>
    public ChildProcess Process { get; }

    /// <summary>Warm (its plugins loaded) and still running: ready for <see cref="Begin"/>.</summary>
    public bool Ready => _warm.Task.IsCompleted && !Process.HasExited;

    public static WarmCapture Start(string hostPath, string logFile, IReadOnlyDictionary<string, string> environment, ProcessLedger ledger, ProcessUser user)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        return new WarmCapture(onLine => ledger.Track(ChildProcess.Start("capture-host", hostPath, [Media.Capture.CaptureHost.Command], logFile,
            environment, onLine, redirectStdin: true, logFilter: l => !GstArgs.IsGrabLine(l), runAs: user)));
    }

    /// <summary>Hands the host the capture's pipeline (<see cref="MediaArgs.Capture"/>); from now on its lines (the
    /// grabbed frames) go to <paramref name="onLine"/>. SIGTERM ends the stream (<see cref="CompositeCapture.HostStopSignal"/>).</summary>
    public ChildProcess Begin(IReadOnlyList<string> captureArguments, Action<string> onLine)
    {
        if (!Ready)
        {
            throw new InvalidOperationException("the capture host is not ready");
        }
        Volatile.Write(ref _onLine, onLine);
        Process.StandardInput.WriteLine(JsonSerializer.Serialize(captureArguments));
        Process.StandardInput.Flush();
        return Process;
    }

    private void OnLine(string line)
    {
        if (line == "warm")
        {
            _warm.TrySetResult();
            return;
        }
        Volatile.Read(ref _onLine)?.Invoke(line);
    }

    /// <summary>Ends a host no recording took (before a pipeline, SIGTERM ends it at once).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _onLine) is not null)
        {
            return;
        }
        await Process.StopAsync(TimeSpan.FromSeconds(2), p =>
        {
            p.Signal(CompositeCapture.HostStopSignal);
            return Task.CompletedTask;
        });
        await Process.DisposeAsync();
    }
}
