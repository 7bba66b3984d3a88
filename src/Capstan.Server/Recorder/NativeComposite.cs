using Capstan.Gst;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Gst.Compositor;
using Capstan.Server.Meetings;
using Capstan.Server.Processes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>A composite capture: what a recording session starts for each segment. The browser composite is
/// <see cref="CaptureSurface"/> with <see cref="MediaArgs.Capture"/>; this is the small interface the native one
/// sits behind.</summary>
public interface ICompositeCapture : IAsyncDisposable
{
    /// <summary>Starts the segment's capture process writing <see cref="CompositorSpec.Output"/>; its stdout lines
    /// (grabbed frames among them, <see cref="GstArgs.GrabLine"/>) go to <paramref name="onLine"/>. SIGTERM ends it
    /// cleanly.</summary>
    ChildProcess StartSegment(CompositorSpec spec, string logFile, Action<string> onLine);
}

/// <summary>The browserless composite of the built-in layout (<c>Recorder:Compositor = native</c>): the
/// meeting's room is watched by a Janus handle that joins it as a publisher that never publishes (the joined
/// answer and the room's events list every publisher with its streams, mid and codec, as the recorder view
/// sees them), and every publisher's audio and video is <c>rtp_forward</c>ed to the UDP ports of the input bins of
/// the segment's pipeline, hosted in a child process (<see cref="CompositorHost"/>) so that a native crash only
/// ends the segment. A video forwarder has a local RTCP port: a PLI sent there makes the publisher send a
/// keyframe at once, so a new input shows within a frame or two of its first packets.
/// <para>Publishers joining, leaving, unpublishing or renegotiating (a new stream set) are followed from the
/// handle's events: inputs are added and removed while the pipeline runs, and a late joiner lands at the moment it
/// joined (the input bins share the pipeline's clock and base time). Without video, a publisher is heard but has
/// no tile, as in the recorder view.</para>
/// <para>A camera turned off: the meeting page renegotiates its video m-line to inactive (meeting.js, setVideo),
/// and Janus then lists that stream with <c>disabled: true</c> in the publisher events this handle receives; that
/// is the signal, the same one the recorder view follows, so nothing else has to carry it. The video's forwarder
/// is stopped and its input replaced, in the same tile, by a camera-off tile
/// (<see cref="CompositorPipeline.CameraOffBin"/>: the neutral colour and the name); the audio's forwarder and input
/// are left alone, so the participant stays heard. When the stream is enabled again the real input takes the tile
/// back (<see cref="UpdateAsync"/>).</para>
/// <para>The handle also hears Janus's <c>talking</c> and <c>stopped-talking</c> of every publisher: the active speaker
/// (<see cref="ActiveSpeaker"/>, the recorder view's rule) is told to the host (<c>speaker FEED</c>), which outlines
/// that tile and puts it first beside a share.</para></summary>
public sealed partial class NativeComposite : ICompositeCapture
{
    private readonly HttpClient _http;
    private readonly JanusClient _janus;
    private readonly long _room;
    private readonly string _pin;
    private readonly string _secret;
    private readonly string _hostPath;
    private readonly ProcessLedger _ledger;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<long, Publisher> _publishers = [];
    private readonly Dictionary<string, Forward> _forwards = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<int>> _ports = new(StringComparer.Ordinal);
    private readonly HashSet<string> _cameraOff = new(StringComparer.Ordinal); // input keys showing a camera-off tile
    private long _session;
    private long _handle;
    private Task? _watch;
    private ChildProcess? _child;
    private readonly ActiveSpeaker _speakers = new();
    private readonly TimeProvider _time = TimeProvider.System;
    private string _speakerSaid = "-"; // what the current child was last told
    private CancellationTokenSource? _holdTimer;

    private sealed record Stream(string Mid, string Type, string Codec);

    /// <param name="Share">A screen share's feed (<see cref="Meetings.ScreenShares"/>): its picture is laid out
    /// large, as the recorder view does (<see cref="CompositorPipeline.ShareLayout"/>).</param>
    private sealed record Publisher(long Id, string Display, IReadOnlyList<Stream> Streams, bool Share = false)
    {
        /// <summary>The mids of its video streams that Janus lists as disabled while no video of it is live: a camera
        /// turned off. Empty for a share (which stops by unpublishing) and for a publisher that never sent
        /// video.</summary>
        public IReadOnlyList<string> CameraOff { get; init; } = [];
    }

    private sealed record Forward(long Publisher, long StreamId, string Kind);

    private NativeComposite(HttpClient http, JanusClient janus, long room, string pin, string secret, string hostPath, ProcessLedger ledger, ILogger logger)
    {
        (_http, _janus, _room, _pin, _secret, _hostPath, _ledger, _logger) = (http, janus, room, pin, secret, hostPath, ledger, logger);
    }

    /// <summary>The executable that runs <see cref="CompositorHost"/>: <c>capstan-compositor-host</c>, which the
    /// server's build compiles ahead of time and puts beside the server's assembly (and the tests' and benchmarks',
    /// which host the server).</summary>
    public static string DefaultHostPath() => Path.Combine(AppContext.BaseDirectory, HostName);

    /// <summary>The compositor host's file name (src/Capstan.CompositorHost).</summary>
    public const string HostName = "capstan-compositor-host";

    /// <summary>Opens the meeting's room (created if nobody joined yet) and starts following its publishers.</summary>
    public static async Task<NativeComposite> OpenAsync(IServiceScopeFactory scopes, HttpClient http, Guid meetingId, string hostPath, ProcessLedger ledger, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == meetingId, ct);
        // Janus forwards to this machine's loopback: a room this recording creates goes on a Janus beside it.
        var beside = JanusOptionsValidator.BesideUrls(scope.ServiceProvider.GetRequiredService<IOptions<JanusOptions>>().Value, scope.ServiceProvider.GetRequiredService<JanusInstances>().All);
        var (room, janus) = await scope.ServiceProvider.GetRequiredService<RoomService>().EnsureAsync(meeting, ct, among: beside);
        var native = new NativeComposite(http, janus.Client, room.RoomId, room.Pin, room.Secret, hostPath, ledger, logger);
        await native.JoinAsync(ct);
        return native;
    }

    private async Task JoinAsync(CancellationToken ct)
    {
        _session = Id(await PostAsync(string.Empty, new JsonObject { ["janus"] = "create" }, ct));
        _handle = Id(await PostAsync($"/{_session}", new JsonObject { ["janus"] = "attach", ["plugin"] = "janus.plugin.videoroom" }, ct));
        await PostAsync($"/{_session}/{_handle}", new JsonObject
        {
            ["janus"] = "message",
            ["body"] = new JsonObject { ["request"] = "join", ["ptype"] = "publisher", ["room"] = _room, ["pin"] = _pin, ["display"] = "capstan-native-recorder" },
        }, ct);
        _watch = Task.Run(() => WatchAsync(_stop.Token), CancellationToken.None);
    }

    public ChildProcess StartSegment(CompositorSpec spec, string logFile, Action<string> onLine)
    {
        ArgumentNullException.ThrowIfNull(onLine);
        var child = _ledger.Track(ChildProcess.Start("compositor", _hostPath, [JsonSerializer.Serialize(spec, CompositorSpecJson.Default.CompositorSpec)], logFile,
            environment: CompositorHost.ProcessEnvironment,
            onLine: line =>
            {
                if (line.StartsWith("port ", StringComparison.Ordinal) && line.Split(' ') is [_, var key, var p] && int.TryParse(p, CultureInfo.InvariantCulture, out var port))
                {
                    lock (_ports)
                    {
                        if (_ports.Remove(key, out var tcs))
                        {
                            tcs.TrySetResult(port);
                        }
                    }
                    return;
                }
                onLine(line);
            },
            redirectStdin: true, logFilter: l => !GstArgs.IsGrabLine(l)));
        _ = Task.Run(async () =>
        {
            await _gate.WaitAsync(_stop.Token);
            try
            {
                await StopForwardsAsync(_stop.Token);
                _child = child;
                await AddAsync(_publishers.Values.ToList(), _stop.Token);
                _speakerSaid = "-";
                await TellSpeakerAsync(_stop.Token);
            }
            finally
            {
                _gate.Release();
            }
        }, CancellationToken.None);
        return child;
    }

    /// <summary>Follows the handle's events (long poll; this also keeps the session alive).</summary>
    private async Task WatchAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            JsonNode? events;
            try
            {
                using var r = await _http.GetAsync(new Uri($"{_janus.BaseUrl}/{_session}?maxev=10"), ct);
                events = await r.Content.ReadFromJsonAsync<JsonNode>(ct);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                LogWatch(_logger, e.Message);
                await Task.Delay(500, ct);
                continue;
            }
            foreach (var ev in events as JsonArray ?? [events])
            {
                if (ev?["plugindata"]?["data"] is JsonObject data)
                {
                    await OnEventAsync(data, ct);
                }
            }
        }
    }

    private async Task OnEventAsync(JsonObject data, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (data["publishers"] is JsonArray list)
            {
                foreach (var p in list.OfType<JsonObject>())
                {
                    var id = p["id"]!.GetValue<long>();
                    var streams = (p["streams"] as JsonArray ?? []).OfType<JsonObject>()
                        .Where(s => s["disabled"]?.GetValue<bool>() != true && s["type"]?.GetValue<string>() is "audio" or "video")
                        .Select(s => new Stream(s["mid"]!.GetValue<string>(), s["type"]!.GetValue<string>(), s["codec"]?.GetValue<string>() ?? "vp8")).ToList();
                    var display = p["display"]?.GetValue<string>() ?? "Participant";
                    var publisher = new Publisher(id, Meetings.ScreenShares.NameOf(display), streams, Meetings.ScreenShares.IsShareDisplay(display))
                    {
                        CameraOff = CameraOffMids(p, streams, Meetings.ScreenShares.IsShareDisplay(display)),
                    };
                    if (_publishers.TryGetValue(id, out var known) && known.Streams.SequenceEqual(streams) && known.Display == publisher.Display && known.Share == publisher.Share
                        && known.CameraOff.SequenceEqual(publisher.CameraOff))
                    {
                        continue;
                    }
                    if (known is not null && known.Display == publisher.Display && known.Share == publisher.Share)
                    {
                        _publishers[id] = publisher;
                        await UpdateAsync(known, publisher, ct);
                        continue;
                    }
                    await RemoveAsync(id, ct);
                    _publishers[id] = publisher;
                    await AddAsync(publisher, ct);
                    // Who was already talking when this handle joined (the joined answer's list says; later, the events do).
                    if (known is null && !publisher.Share && p["talking"]?.GetValue<bool>() == true)
                    {
                        _speakers.Talking(id, _time.GetUtcNow());
                        await TellSpeakerAsync(ct);
                    }
                }
            }
            foreach (var key in new[] { "unpublished", "leaving", "kicked" })
            {
                if (data[key] is JsonValue v && v.TryGetValue<long>(out var gone))
                {
                    await RemoveAsync(gone, ct);
                    _publishers.Remove(gone);
                    _speakers.Remove(gone);
                    await TellSpeakerAsync(ct);
                }
            }
            if (data["videoroom"]?.GetValue<string>() is "talking" or "stopped-talking" && data["id"] is JsonValue idValue && idValue.TryGetValue<long>(out var talker)
                && !(_publishers.TryGetValue(talker, out var tp) && tp.Share))
            {
                if (data["videoroom"]!.GetValue<string>() == "talking")
                {
                    _speakers.Talking(talker, _time.GetUtcNow());
                }
                else
                {
                    _speakers.Stopped(talker, _time.GetUtcNow());
                }
                await TellSpeakerAsync(ct);
            }
        }
        catch (Exception e) when (e is JanusException or HttpRequestException or IOException or TimeoutException or InvalidOperationException)
        {
            LogWatch(_logger, e.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Tells the host the active speaker when it changed, and comes back when a hold runs out. Called
    /// under <see cref="_gate"/>.</summary>
    private async Task TellSpeakerAsync(CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var said = _speakers.Current(now) is { } feed ? feed.ToString(CultureInfo.InvariantCulture) : "-";
        if (said != _speakerSaid && _child is { HasExited: false } child)
        {
            await child.StandardInput.WriteLineAsync($"speaker {said}".AsMemory(), ct);
            await child.StandardInput.FlushAsync(ct);
            _speakerSaid = said;
            LogSpeaker(_logger, said);
        }
        if (_holdTimer is { } old)
        {
            await old.CancelAsync();
            old.Dispose();
            _holdTimer = null;
        }
        if (_speakers.NextChange(now) is { } next)
        {
            var timer = _holdTimer = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            _ = Task.Run(async () =>
            {
                try
                {
                    await Task.Delay(next - now + TimeSpan.FromMilliseconds(5), _time, timer.Token);
                    await _gate.WaitAsync(timer.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                try
                {
                    await TellSpeakerAsync(_stop.Token);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    LogWatch(_logger, e.Message);
                }
                finally
                {
                    _gate.Release();
                }
            }, CancellationToken.None);
        }
    }

    /// <summary>The mids of a publisher's disabled video streams when none of its video is live (see
    /// <see cref="Publisher.CameraOff"/>).</summary>
    private static List<string> CameraOffMids(JsonObject p, List<Stream> live, bool share)
    {
        if (share || live.Any(s => s.Type == "video"))
        {
            return [];
        }
        return [.. (p["streams"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(s => s["disabled"]?.GetValue<bool>() == true && s["type"]?.GetValue<string>() == "video" && s["mid"] is not null)
            .Select(s => s["mid"]!.GetValue<string>())];
    }

    /// <summary>A known publisher's streams changed (a camera turned off or on, a renegotiation): only the inputs
    /// that changed are touched, so a camera going off or on leaves the audio's forwarder and input running. An
    /// input whose key stays (the video's mid, camera-off tile or video) is replaced in its place in the
    /// layout.</summary>
    private async Task UpdateAsync(Publisher known, Publisher now, CancellationToken ct)
    {
        static Dictionary<string, string> Inputs(Publisher p) =>
            p.Streams.Select(s => ($"{p.Id}-{s.Mid}", s.Type + ":" + s.Codec)).Concat(p.CameraOff.Select(m => ($"{p.Id}-{m}", CompositorPipeline.CameraOffKind)))
                .ToDictionary(x => x.Item1, x => x.Item2, StringComparer.Ordinal);
        var before = Inputs(known);
        var after = Inputs(now);
        foreach (var (key, what) in before)
        {
            if (after.TryGetValue(key, out var next) && next == what)
            {
                continue;
            }
            if (_forwards.Remove(key, out var f))
            {
                await StopForwardAsync(f, ct);
            }
            _cameraOff.Remove(key);
            if (!after.ContainsKey(key) && _child is { HasExited: false } child)
            {
                await child.StandardInput.WriteLineAsync($"remove {key}".AsMemory(), ct);
                await child.StandardInput.FlushAsync(ct);
            }
        }
        bool Changed(string key, string what) => !before.TryGetValue(key, out var was) || was != what;
        await AddAsync(now with
        {
            Streams = [.. now.Streams.Where(s => Changed($"{now.Id}-{s.Mid}", s.Type + ":" + s.Codec))],
            CameraOff = [.. now.CameraOff.Where(m => Changed($"{now.Id}-{m}", CompositorPipeline.CameraOffKind))],
        }, ct);
    }

    /// <summary>Shows a camera-off tile for each of <see cref="Publisher.CameraOff"/> (replacing the video's input in
    /// its place when there is one).</summary>
    private async Task AddCameraOffAsync(Publisher p, CancellationToken ct)
    {
        if (_child is not { HasExited: false } child)
        {
            return;
        }
        foreach (var mid in p.CameraOff)
        {
            var key = $"{p.Id}-{mid}";
            await child.StandardInput.WriteLineAsync($"add {key} {CompositorPipeline.CameraOffKind} - {p.Display.Replace('\n', ' ').Replace('\r', ' ')}".AsMemory(), ct);
            await child.StandardInput.FlushAsync(ct);
            _cameraOff.Add(key);
            LogCameraOff(_logger, p.Id, p.Display);
        }
    }

    /// <summary>Adds the publisher's streams to the running pipeline and forwards them there.</summary>
    private Task AddAsync(Publisher p, CancellationToken ct) => AddAsync([p], ct);

    /// <summary>Adds the publishers' streams to the running pipeline and forwards them there, all at once: every input
    /// is asked of the host before any port is awaited, and the forwards are asked of Janus together. One after the
    /// other, each input waited for the host and then Janus, and on a loaded machine the second of two participants
    /// present at the start had no tile until 1.0-1.5 s into the recording (a CI run), against 0.5 s for the first.</summary>
    private async Task AddAsync(IReadOnlyList<Publisher> publishers, CancellationToken ct)
    {
        var asked = new List<(Publisher P, List<(Stream S, Task<int> Port)> Streams)>();
        foreach (var p in publishers)
        {
            await AddCameraOffAsync(p, ct);
            if (_child is not { HasExited: false } child || p.Streams.Count == 0)
            {
                continue;
            }
            var ports = new List<(Stream, Task<int>)>();
            foreach (var s in p.Streams)
            {
                var key = $"{p.Id}-{s.Mid}";
                var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_ports)
                {
                    _ports[key] = tcs;
                }
                var name = s.Type == "video" ? " " + p.Display.Replace('\n', ' ').Replace('\r', ' ') : string.Empty;
                var kind = s.Type == "video" && p.Share ? CompositorPipeline.ScreenKind : s.Type;
                await child.StandardInput.WriteLineAsync($"add {key} {kind} {s.Codec}{name}".AsMemory(), ct);
                ports.Add((s, tcs.Task));
            }
            await child.StandardInput.FlushAsync(ct);
            asked.Add((p, ports));
        }
        var forwarding = asked.Select(a => (a.P, Answer: ForwardAsync(a.P, a.Streams, ct))).ToList();
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failed = null;
        foreach (var (p, answering) in forwarding)
        {
            JsonObject answer;
            try
            {
                answer = await answering;
            }
            catch (Exception e)
            {
                // The others' forwards are kept (and stopped with the recording) before the first failure goes on.
                failed ??= System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                continue;
            }
            foreach (var f in (answer["forwarders"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var type = f["type"]?.GetValue<string>() ?? "audio";
                var streamId = f["stream_id"]!.GetValue<long>();
                var mid = p.Streams.FirstOrDefault(s => s.Type == type)?.Mid ?? "?";
                _forwards[$"{p.Id}-{mid}"] = new Forward(p.Id, streamId, type);
                if (f["local_rtcp_port"] is JsonValue rtcp && rtcp.TryGetValue<int>(out var rtcpPort))
                {
                    _ = RequestKeyframesAsync(rtcpPort, f["ssrc"] is JsonValue ssrc && ssrc.TryGetValue<uint>(out var s) ? s : 0u);
                }
            }
            LogAdded(_logger, p.Id, p.Display, string.Join(",", p.Streams.Select(s => s.Type + ":" + s.Codec)));
        }
        failed?.Throw();
    }

    /// <summary>Asks Janus to forward the publisher's streams to the ports the host gave their inputs.</summary>
    private async Task<JsonObject> ForwardAsync(Publisher p, IReadOnlyList<(Stream S, Task<int> Port)> ports, CancellationToken ct)
    {
        var streams = new JsonArray();
        foreach (var (s, portTask) in ports)
        {
            var port = await portTask.WaitAsync(TimeSpan.FromSeconds(10), ct);
            var stream = new JsonObject { ["mid"] = s.Mid, ["port"] = port, ["pt"] = s.Type == "video" ? CompositorPipeline.VideoPt : CompositorPipeline.AudioPt };
            if (s.Type == "video")
            {
                // Janus sends nothing there; it listens on a local port of its own for our PLIs.
                stream["rtcp_port"] = port + 1;
            }
            streams.Add(stream);
        }
        return await _janus.VideoRoomAsync(new JsonObject
        {
            ["request"] = "rtp_forward", ["room"] = _room, ["publisher_id"] = p.Id, ["host"] = "127.0.0.1", ["secret"] = _secret, ["admin_key"] = _janus.AdminKey, ["streams"] = streams,
        }, ct);
    }

    /// <summary>A few PLIs (RTCP PT 206, FMT 1) to the forwarder's local RTCP port: the first frames a new input gets
    /// are then a keyframe's, and one lost keyframe is made up for. Every 250 ms for the first second, then at 1.5 and
    /// 2.5 s: with PLIs at 0, 0.3, 1.3 and 3.3 s the first two often went unanswered (where they were dropped was not
    /// found; libwebrtc's encoder may skip a request that comes too soon after another), and in 4 of 6 runs a
    /// participant present at the start had no tile until 1.0-1.5 s into the recording; with these, both tiles were
    /// there by 0.5 s in 4 of 4.</summary>
    private async Task RequestKeyframesAsync(int port, uint ssrc)
    {
        try
        {
            using var udp = new UdpClient(System.Net.Sockets.AddressFamily.InterNetwork);
            var pli = new byte[] { 0x81, 206, 0, 2, 0, 0, 0, 1, (byte)(ssrc >> 24), (byte)(ssrc >> 16), (byte)(ssrc >> 8), (byte)ssrc };
            foreach (var delay in new[] { 0, 250, 250, 250, 250, 500, 1000 })
            {
                await Task.Delay(delay, _stop.Token);
                await udp.SendAsync(pli, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // the recording ended
        }
    }

    private async Task RemoveAsync(long publisher, CancellationToken ct)
    {
        await RemoveCameraOffAsync(publisher, ct);
        foreach (var (key, f) in _forwards.Where(kv => kv.Value.Publisher == publisher).ToList())
        {
            _forwards.Remove(key);
            await StopForwardAsync(f, ct);
            if (_child is { HasExited: false } child)
            {
                await child.StandardInput.WriteLineAsync($"remove {key}".AsMemory(), ct);
                await child.StandardInput.FlushAsync(ct);
            }
        }
    }

    /// <summary>Removes the publisher's camera-off tiles (it left, or is added again from scratch).</summary>
    private async Task RemoveCameraOffAsync(long publisher, CancellationToken ct)
    {
        foreach (var key in _cameraOff.Where(k => k.StartsWith($"{publisher}-", StringComparison.Ordinal)).ToList())
        {
            _cameraOff.Remove(key);
            if (_child is { HasExited: false } child)
            {
                await child.StandardInput.WriteLineAsync($"remove {key}".AsMemory(), ct);
                await child.StandardInput.FlushAsync(ct);
            }
        }
    }

    private async Task StopForwardsAsync(CancellationToken ct)
    {
        _cameraOff.Clear(); // the tiles of the segment's pipeline, which goes with it
        foreach (var f in _forwards.Values.ToList())
        {
            await StopForwardAsync(f, ct);
        }
        _forwards.Clear();
    }

    private async Task StopForwardAsync(Forward f, CancellationToken ct)
    {
        try
        {
            await _janus.VideoRoomAsync(new JsonObject
            {
                ["request"] = "stop_rtp_forward", ["room"] = _room, ["publisher_id"] = f.Publisher, ["stream_id"] = f.StreamId, ["secret"] = _secret, ["admin_key"] = _janus.AdminKey,
            }, ct);
        }
        catch (Exception e) when (e is JanusException or HttpRequestException)
        {
            // the publisher is gone, and its forwarders with it
        }
    }

    private async Task<JsonObject> PostAsync(string path, JsonObject body, CancellationToken ct)
    {
        body["transaction"] = "capstan-native-" + Guid.NewGuid().ToString("N")[..12];
        using var r = await _http.PostAsJsonAsync(new Uri(_janus.BaseUrl + path), body, ct);
        r.EnsureSuccessStatusCode();
        var reply = await r.Content.ReadFromJsonAsync<JsonObject>(ct) ?? throw new JanusException("empty Janus reply");
        return reply["janus"]?.GetValue<string>() == "error" ? throw new JanusException("Janus refused: " + reply.ToJsonString()) : reply;
    }

    private static long Id(JsonObject reply) => reply["data"]!["id"]!.GetValue<long>();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_watch is not null)
        {
            await _watch.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await StopForwardsAsync(cts.Token);
            await PostAsync($"/{_session}", new JsonObject { ["janus"] = "destroy" }, cts.Token);
        }
        catch (Exception e) when (e is JanusException or HttpRequestException or OperationCanceledException)
        {
            LogWatch(_logger, e.Message);
        }
        _holdTimer?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Native composite: publisher {Publisher} ({Display}) added: {Streams}")]
    private static partial void LogAdded(ILogger logger, long publisher, string display, string streams);

    [LoggerMessage(Level = LogLevel.Information, Message = "Native composite: active speaker {Feed}")]
    private static partial void LogSpeaker(ILogger logger, string feed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Native composite: publisher {Publisher} ({Display}) turned the camera off: a camera-off tile")]
    private static partial void LogCameraOff(ILogger logger, long publisher, string display);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Native composite: {Message}")]
    private static partial void LogWatch(ILogger logger, string message);
}
