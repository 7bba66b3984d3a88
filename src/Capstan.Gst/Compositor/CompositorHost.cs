using System.Globalization;
using System.Text.Json;

namespace Capstan.Gst.Compositor;

/// <summary>The child process that hosts one native composite pipeline (<c>capstan-compositor-host SPEC_JSON</c>, the
/// Capstan.CompositorHost project, compiled ahead of time), so that a native crash in GStreamer cannot take the worker down.
/// <para>Commands on stdin, one a line: <c>add KEY video|screen|audio CODEC DISPLAY NAME</c> (<c>screen</c>: a shared screen's picture, laid out large by <see cref="CompositorPipeline.ShareLayout"/>) (answered <c>port KEY N</c>, the
/// free UDP port its <c>udpsrc</c> bound), <c>add KEY cameraoff - DISPLAY NAME</c> (a camera-off tile,
/// <see cref="CompositorPipeline.CameraOffBin"/>; answered <c>added KEY</c>); an <c>add</c> of a KEY that is there
/// already replaces that input in its place in the layout (a camera turned off or on keeps its tile; a camera-off
/// tile stays over the returning video until that video's first pictures are composited), <c>remove KEY</c> (answered <c>removed KEY</c>), <c>eos</c>. SIGINT, SIGTERM
/// and the end of stdin also end the pipeline: end-of-stream, wait for it on the bus (5 s at most), exit 0.
/// On stdout: <c>ready</c> once playing, each composited frame as the capture's grab line
/// (<see cref="GstArgs.GrabLine"/>), and <c>error TEXT</c> before exiting 1 on a pipeline error or a mixer that stalled (<see cref="Stalled"/>).</para>
/// <para><c>speaker FEED</c> outlines the video input keyed <c>FEED-…</c> (not a screen) as the active speaker and puts it
/// first among the thumbnails beside a share; <c>speaker -</c> outlines nobody (the server's <c>ActiveSpeaker</c>).</para>
/// <para>Compiled ahead of time (Native AOT), not run by the server's own executable as before: a host then carried
/// the .NET runtime's JIT, its class library's images (CoreLib alone 11.6 MiB resident, with ASP.NET's routing among
/// the assemblies the server's start-up loaded) and the code it compiled. Measured with the host fed by RTP senders
/// (VP8 640x360 and Opus for each participant; interleaved runs): 720p30 with 4 participants, RSS 158-165 MiB before,
/// 120-128 after; 1080p30 with 2, 174-175 before, 139-144 after; the first picture 0.8 s after the pipeline was
/// built before, 0.16-0.22 s after (nothing to compile); CPU the same within the runs' spread. The spec comes as
/// source-generated JSON (<see cref="CompositorSpecJson"/>).</para></summary>
public static class CompositorHost
{
    /// <summary>What the host's process is started with (the server's <c>NativeComposite</c>): glibc's malloc with
    /// one arena, no picture an mmap of its own, and the heap's free top kept up to 32 MiB.
    /// <para>GStreamer's elements allocate pictures anew on many streaming threads for every frame, and glibc by
    /// default gives threads arenas of their own (up to 16 on 2 cores), makes every allocation of 128 KiB or more an
    /// mmap of its own until a free raises that threshold, and trims the heap's top whenever more than twice the
    /// threshold is free there. Each of those makes the next picture's pages new ones, faulted in and zeroed by the
    /// kernel. Measured with the host fed by RTP senders (VP8 640x360 and Opus for each participant, 2 participants
    /// unless said):</para>
    /// <list type="bullet">
    /// <item>One arena (<c>MALLOC_ARENA_MAX=1</c>): at 720p30 with 4 participants 9,000 page faults a second with the
    /// default, 0-2,000 with it, RSS 163-167 against 158-160 MiB, CPU the same within the runs' spread.</item>
    /// <item>At 1080p30 one arena still left 10,400 faults a second, from the heap trimmed and grown again by the
    /// mixer's thread (<c>systrim</c>, <c>sysmalloc</c>) and the faults taken writing the scaled tiles (GLib's pool): a
    /// fixed mmap threshold of 32 MiB, glibc's largest (<c>MALLOC_MMAP_THRESHOLD_</c>), with a trim threshold of 128 MiB
    /// (<c>MALLOC_TRIM_THRESHOLD_</c>) took them to 3 a second and the host from 0.62-0.68 core to 0.46-0.47 (two
    /// interleaved runs each, load 1.2-1.7), RSS 141-142 against 144-145 MiB; the benchmark's 1080p recording then
    /// peaked at 149 MiB RSS. A trim threshold of 32 MiB (ten 1080p pictures) kept the faults away as well (2 a
    /// second; 16 MiB: 3) with 2 MiB less (142 against 144 MiB, the same run). At 720p, which had no faults to take
    /// away, the same within the runs' spread (2 participants 0.26-0.32 core, 4 participants 0.29-0.35; RSS +1 MiB).
    /// Either threshold alone is worse: setting one stops glibc raising the mmap threshold on its own, and a fixed
    /// one of 128 KiB made every picture an mmap (31,700 faults a second at 720p with 4 participants).</item>
    /// </list></summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment { get; } = new Dictionary<string, string>
    {
        ["MALLOC_ARENA_MAX"] = "1",
        ["MALLOC_MMAP_THRESHOLD_"] = "33554432",
        ["MALLOC_TRIM_THRESHOLD_"] = "33554432",
    };

    /// <summary>One input of a mixer: its bin, the mixer's pad it is linked to (a forwarded stream's once its first
    /// buffer is there, <see cref="LinkedOnFirstBuffer"/>), its kind. A picture's pad follows its
    /// source's size and its tile: a forwarded picture a little larger than its tile is cropped to it (the bin's
    /// <c>videocrop</c>, <see cref="CompositorPipeline.Crop"/>), and what still differs is scaled by the resampler
    /// <see cref="CompositorPipeline.ConverterConfig"/> chooses; both are chosen again when the size or the tile
    /// changes (the sizes from the caps reaching the crop and the pad, on streaming threads; the tile from the layout).</summary>
    private sealed class Input
    {
        private readonly object _lock = new();
        private readonly GstElement? _mixer;
        private readonly GstPad? _source;
        private readonly GstElement? _crop;
        private readonly GstPad? _cropSink;
        private (int Width, int Height)? _sourceSize;
        private (int Left, int Right, int Top, int Bottom) _cropped;
        private GstPad? _mixerPad;
        private Tile? _tile;
        private (int Width, int Height)? _size;
        private string? _converter;
        private bool _dropped;

        /// <summary>An input linked to <paramref name="mixerPad"/> already: a camera-off tile, whose picture comes at once.</summary>
        public Input(GstElement bin, GstPad mixerPad, string kind)
        {
            (Bin, Kind) = (bin, kind);
            Prepare(mixerPad);
            _mixerPad = mixerPad;
        }

        private Input(GstElement bin, GstElement mixer, string kind)
        {
            (Bin, _mixer, Kind) = (bin, mixer, kind);
            _source = bin.StaticPad("src");
            _crop = bin.Child("crop");
            _cropSink = _crop?.StaticPad("sink");
            _cropSink?.OnVideoSize(SourceSized);
        }

        /// <summary>An input whose bin gets a pad of <paramref name="mixer"/> when its first buffer leaves it, not before.
        /// A live mixer waits for a new pad's first data up to its whole latency (its own 0.5 s on top of the 0.5 s it
        /// allows its inputs), and a forwarded camera's first picture comes with its keyframe, 0.3 to 0.5 s after the
        /// forward starts: linked at once, every join froze the picture for 0.9 to 1.0 s (measured), then a burst of 12
        /// to 15 frames that the encoder's queue and the frames' pool held. Linked on its first buffer, the input
        /// holds up no frame.</summary>
        public static Input LinkedOnFirstBuffer(GstElement bin, GstElement mixer, string kind)
        {
            var input = new Input(bin, mixer, kind);
            input._source!.OnFirstBuffer(input.Link);
            return input;
        }

        public GstElement Bin { get; }

        public string Kind { get; }

        /// <summary>Shows the picture in <paramref name="tile"/> (once it is linked, if it is not yet).</summary>
        public void Place(Tile tile)
        {
            lock (_lock)
            {
                _tile = tile;
                Crop();
                if (_mixerPad is { } pad)
                {
                    CompositorHost.Place(pad, tile);
                    Rescale();
                }
            }
        }

        /// <summary>Puts the picture above the others (<c>zorder</c>).</summary>
        public void Raise(int zorder)
        {
            lock (_lock)
            {
                _mixerPad?.Set("zorder", I(zorder));
            }
        }

        /// <summary>A picture's mixer pad, before any of it is composited: it keeps the picture's aspect ratio, follows its
        /// size, and shows it in its tile if the layout gave it one already.</summary>
        private void Prepare(GstPad pad)
        {
            if (Kind == "audio")
            {
                return;
            }
            pad.Set("sizing-policy", "keep-aspect-ratio");
            pad.OnVideoSize(Sized);
            if (_tile is { } tile)
            {
                CompositorHost.Place(pad, tile);
            }
        }

        /// <summary>The first buffer is waiting on the bin's pad (a streaming thread; the probe asks once, until
        /// true): a mixer pad, prepared, and the link.</summary>
        private bool Link()
        {
            lock (_lock)
            {
                if (_dropped)
                {
                    return false;
                }
                var pad = _mixer!.RequestPad("sink_%u");
                try
                {
                    Prepare(pad);
                    _source!.Link(pad);
                }
                catch (GstException)
                {
                    pad.Release();
                    pad.Dispose();
                    throw;
                }
                _mixerPad = pad;
                return true;
            }
        }

        private void Sized(int width, int height)
        {
            lock (_lock)
            {
                _size = (width, height);
                Rescale();
            }
        }

        private void SourceSized(int width, int height)
        {
            lock (_lock)
            {
                _sourceSize = (width, height);
                Crop();
            }
        }

        /// <summary>Crops the picture to its tile when it is a little larger (<see cref="CompositorPipeline.Crop"/>).
        /// The crop's new size goes down to the mixer's pad with the next frame (the pad's caps, then <see cref="Sized"/>).</summary>
        private void Crop()
        {
            if (_dropped || _crop is null || _tile is not { } tile || _sourceSize is not { } size)
            {
                return;
            }
            var crop = CompositorPipeline.Crop(size.Width, size.Height, tile);
            if (crop == _cropped)
            {
                return;
            }
            _crop.Set("left", I(crop.Left));
            _crop.Set("right", I(crop.Right));
            _crop.Set("top", I(crop.Top));
            _crop.Set("bottom", I(crop.Bottom));
            _cropped = crop;
            Console.Error.WriteLine($"{Bin.Name}: {I(size.Width)}x{I(size.Height)} cropped to {I(size.Width - crop.Left - crop.Right)}x{I(size.Height - crop.Top - crop.Bottom)} for a {I(tile.Width)}x{I(tile.Height)} tile");
        }

        private void Rescale()
        {
            if (_dropped || _mixerPad is not { } pad || _tile is not { } tile || _size is not { } size)
            {
                return;
            }
            var converter = CompositorPipeline.ConverterConfig(size.Width, size.Height, tile);
            if (converter != _converter)
            {
                if (converter is null)
                {
                    pad.Clear("converter-config");
                }
                else
                {
                    pad.Set("converter-config", converter);
                }
                _converter = converter;
                Console.Error.WriteLine($"{pad.Name}: {I(size.Width)}x{I(size.Height)} in a {I(tile.Width)}x{I(tile.Height)} tile, "
                    + (converter is not null ? "scaled by the nearest pixel" : size.Width == tile.Width && size.Height == tile.Height ? "not scaled" : "scaled by the default resampler"));
            }
        }

        /// <summary>Takes the input out of <paramref name="pipeline"/>: the mixer's pad first (the mixer stops
        /// waiting on it), then the bin.</summary>
        public void Drop(GstElement pipeline)
        {
            GstPad? pad;
            lock (_lock)
            {
                _dropped = true; // a caps event or a first buffer still on its way leaves the pads alone
                pad = _mixerPad;
                _mixerPad = null;
            }
            pad?.Release();
            Bin.SetState(GstState.Null);
            pipeline.Remove(Bin);
            pad?.Dispose();
            _source?.Dispose();
            _cropSink?.Dispose();
            _crop?.Dispose();
            Bin.Dispose();
        }
    }

    public static int Run(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: capstan-compositor-host SPEC_JSON");
            return 2;
        }
        var spec = JsonSerializer.Deserialize(args[0], CompositorSpecJson.Default.CompositorSpec) ?? throw new ArgumentException("no spec");
        using var host = new PipelineHost();
        using var started = Start(spec, host);
        if (started is null)
        {
            return 1;
        }
        var (pipeline, comp, outline, outputs) = (started.Pipeline, started.Comp, started.Outline, started.Outputs);
        using var mix = pipeline.Get("mix");
        using var bus = pipeline.Bus();
        var inputs = new Dictionary<string, Input>(StringComparer.Ordinal);
        var video = new List<string>();
        // Camera-off tiles kept over a returning video until its first pictures are composited (key -> that tile),
        // so the tile goes from the name to the picture without the black of a decoder waiting for its keyframe; the
        // commands and the tiles' removal (from a timer) share one lock.
        var covers = new Dictionary<string, Input>(StringComparer.Ordinal);
        var gate = new object();
        var stop = host.Stopping;
        string? speaker = null; // the active speaker's feed id
        host.Say("ready");

        // Shared screens first and large, the others beside them (CompositorPipeline.ShareLayout), or the grid.
        // The active speaker's (camera) tile first among the thumbnails beside a share, and outlined.
        void Relayout()
        {
            var speakerKey = speaker is null ? null : video.FirstOrDefault(k => k.StartsWith(speaker + "-", StringComparison.Ordinal) && inputs[k].Kind != CompositorPipeline.ScreenKind);
            var order = CompositorPipeline.Arrange(video.Select(k => (k, inputs[k].Kind == CompositorPipeline.ScreenKind)).ToList(), speakerKey);
            var shares = video.Count(k => inputs[k].Kind == CompositorPipeline.ScreenKind);
            var tiles = CompositorPipeline.ShareLayout(shares, order.Count - shares, spec.Width, spec.Height);
            Tile? outlined = null;
            for (var i = 0; i < order.Count; i++)
            {
                inputs[order[i]].Place(tiles[i]);
                if (order[i] == speakerKey)
                {
                    outlined = tiles[i];
                }
            }
            IReadOnlyList<Tile> bars = outlined is { } t ? CompositorPipeline.OutlineBars(t) : [];
            for (var i = 0; i < outline.Count; i++)
            {
                if (i < bars.Count)
                {
                    Place(outline[i].Pad, bars[i]);
                }
                outline[i].Pad.Set("alpha", i < bars.Count ? "1.0" : "0.0");
            }
            foreach (var (key, cover) in covers)
            {
                var i = order.ToList().IndexOf(key);
                if (i >= 0)
                {
                    cover.Place(tiles[i]);
                }
            }
        }

        // A camera-off tile (CompositorPipeline.CameraOffBin) with the participant's name, playing: an input of its
        // own (the `cameraoff` kind), or above the tiles as a cover (a high zorder; placed by Relayout). Every
        // camera-off tile is built here.
        Input CameraOffTile(string display, int? zorder = null)
        {
            var bin = GstElement.Bin(CompositorPipeline.CameraOffBin(), ghostUnlinkedPads: false);
            bin.GhostSource("out");
            Name(bin, display);
            pipeline.Add(bin);
            var pad = comp.RequestPad("sink_%u");
            if (zorder is { } z)
            {
                pad.Set("zorder", I(z));
            }
            using (var src = bin.StaticPad("src"))
            {
                src.Link(pad);
            }
            var tile = new Input(bin, pad, CompositorPipeline.CameraOffKind);
            bin.SyncStateWithParent();
            return tile;
        }

        void Uncover(string key, Input? only = null)
        {
            if (!covers.TryGetValue(key, out var cover) || (only is not null && cover != only))
            {
                return;
            }
            covers.Remove(key);
            cover.Drop(pipeline);
        }

        void Remove(string key, bool relayout = true)
        {
            Uncover(key);
            if (!inputs.Remove(key, out var input))
            {
                return;
            }
            input.Drop(pipeline);
            if (video.Remove(key) && relayout)
            {
                Relayout();
            }
        }

        var commands = new Thread(() =>
        {
            try
            {
                while (Console.In.ReadLine() is { } line)
                {
                    var parts = line.Split(' ', 5, StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length == 0)
                    {
                        continue;
                    }
                    Monitor.Enter(gate); // the commands and the camera-off tiles' removal
                    try
                    {
                        switch (parts[0])
                        {
                            case "add" when parts.Length >= 4:
                                {
                                    var (key, kind, codec) = (parts[1], parts[2], parts[3]);
                                    var display = parts.Length > 4 ? parts[4] : string.Empty;
                                    var place = video.IndexOf(key); // a replaced input keeps its tile
                                    var cameraOff = kind == CompositorPipeline.CameraOffKind;
                                    var media = kind is CompositorPipeline.ScreenKind or CompositorPipeline.CameraOffKind ? "video" : kind;
                                    Input? cover = null;
                                    if (media == "video" && !cameraOff && inputs.TryGetValue(key, out var was) && was.Kind == CompositorPipeline.CameraOffKind)
                                    {
                                        // The camera-off tile stays, on top, until the returning video is composited.
                                        Uncover(key);
                                        inputs.Remove(key);
                                        video.Remove(key);
                                        was.Raise(10000);
                                        covers[key] = cover = was;
                                    }
                                    else
                                    {
                                        Remove(key, relayout: false);
                                        if (kind == "video")
                                        {
                                            // A camera's picture comes with its first keyframe, 0.3 to 0.5 s after the
                                            // forward starts (the first frames of every segment): until it is
                                            // composited, the tile shows the name, as a camera turned off does, not
                                            // the black background.
                                            covers[key] = cover = CameraOffTile(display, zorder: 10000);
                                        }
                                    }
                                    if (cameraOff)
                                    {
                                        inputs[key] = CameraOffTile(display);
                                        video.Insert(place >= 0 ? place : video.Count, key);
                                        Relayout();
                                        host.Say($"added {key}");
                                        break;
                                    }
                                    var bin = GstElement.Bin(CompositorPipeline.InputBin(media, codec, spec.JitterMs, spec.FrameRate), ghostUnlinkedPads: false);
                                    bin.GhostSource("out");
                                    Name(bin, display);
                                    pipeline.Add(bin);
                                    inputs[key] = Input.LinkedOnFirstBuffer(bin, media == "video" ? comp : mix, kind);
                                    if (media == "video")
                                    {
                                        video.Insert(place >= 0 ? place : video.Count, key);
                                        Relayout();
                                    }
                                    else if (place >= 0)
                                    {
                                        Relayout();
                                    }
                                    bin.SyncStateWithParent();
                                    if (cover is not null)
                                    {
                                        // A picture leaving the bin is composited about the mixers' latency later.
                                        using var output = bin.StaticPad("src");
                                        var seen = 0;
                                        var later = TimeSpan.FromMilliseconds(spec.JitterMs + spec.MarginMs);
                                        output.OnBuffer(pts =>
                                        {
                                            if (Interlocked.Exchange(ref seen, 1) == 0)
                                            {
                                                _ = Task.Delay(later).ContinueWith(t =>
                                                {
                                                    lock (gate)
                                                    {
                                                        if (!stop.IsSet) // the pipeline is ending: nothing to uncover
                                                        {
                                                            Uncover(key, cover);
                                                        }
                                                    }
                                                }, TaskScheduler.Default);
                                            }
                                        });
                                    }
                                    using var udp = bin.Get("rtp");
                                    host.Say($"port {key} {I(udp.GetInt("port"))}");
                                    break;
                                }
                            case "remove" when parts.Length >= 2:
                                Remove(parts[1]);
                                host.Say($"removed {parts[1]}");
                                break;
                            case "speaker" when parts.Length >= 2:
                                speaker = parts[1] == "-" ? null : parts[1];
                                Relayout();
                                break;
                            case "eos":
                                stop.Set();
                                return;
                            default:
                                Console.Error.WriteLine("unknown command: " + line);
                                break;
                        }
                    }
                    catch (GstException e)
                    {
                        host.Say("failed " + (parts.Length > 1 ? parts[1] : "?") + " " + e.Message);
                    }
                    finally
                    {
                        Monitor.Exit(gate);
                    }
                }
            }
            catch (IOException)
            {
                // stdin went away
            }
            stop.Set();
        })
        { IsBackground = true, Name = "commands" };
        commands.Start();

        // The end goes in behind the mixers. Into the sources (gst-launch -e), each input ends on its own and the mixer
        // draws what is left: a participant's tile gone or the black background alone as the file's last frames. The
        // mixers put out a moment about their latency after it was live (more when the machine is busy): the end waits
        // until both have put out the moment of the stop, so that the file holds everything up to it (bounded: the
        // latency and 2 s more).
        var stallBound = StallBound(spec);
        var exit = host.RunUntilStopped(pipeline, bus, TimeSpan.FromSeconds(5), health: () =>
            pipeline.RunningTime() is { } live ? Stalled(live, outputs.LastPicture, outputs.LastSound, stallBound) : null,
            endOfStream: () =>
        {
            if (pipeline.RunningTime() is { } stopAt)
            {
                if (!outputs.WaitUntil(stopAt - (1_000_000_000L / spec.FrameRate), stopAt - 20_000_000, TimeSpan.FromMilliseconds(spec.JitterMs + spec.MarginMs + 2000)))
                {
                    // In the host's log (the segment's): which mixer had not reached the stop, and where it was.
                    Console.Error.WriteLine($"stop at {stopAt / 1e9:0.000} s not reached: picture at {outputs.LastPicture / 1e9:0.000} s, sound at {outputs.LastSound / 1e9:0.000} s");
                }
            }
            foreach (var name in (ReadOnlySpan<string>)["grab", "mixed"])
            {
                using var element = pipeline.Get(name);
                using var sink = element.StaticPad("sink");
                sink.SendEos();
            }
        });
        // In the segment's log: the pictures the encoder's queue dropped, the file's frames short of the grab lines, and
        // those still in it when the pipeline ended on an error (not ended by end-of-stream, which drains it).
        var (composited, encoded, dropped, firstDrop, lastDrop) = outputs.Pictures;
        var held = composited - encoded - dropped;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pictures: {composited} composited, {encoded} encoded, {dropped} dropped in front of the encoder{(firstDrop < 0 ? "" : $" (between {firstDrop / 1e9:0.000} s and {lastDrop / 1e9:0.000} s)")}{(held > 0 ? $", {held} still in front of it at the end" : "")}"));
        return exit;
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Builds the spec's pipeline, with the outline's bars, and plays it; kept once both mixers have put out
    /// their first picture and sound (its grab lines held back until then), else built again (<see cref="FirstOutputBound"/>,
    /// <see cref="FirstOutputAttempts"/>). Null when it could not be started, with <c>error TEXT</c> said.</summary>
    private static Started? Start(CompositorSpec spec, PipelineHost host)
    {
        for (var attempt = 1; ; attempt++)
        {
            // Frames announced only once the pipeline is kept: a pipeline built again starts its running time anew.
            host.HoldGrabs();
            var outputs = new MixerOutputs();
            var pipeline = GstElement.Launch(CompositorPipeline.Describe(spec));
            host.AnnounceGrabs(pipeline, withInstant: false);
            using (var grab = pipeline.Get("grab"))
            using (var pad = grab.StaticPad("src"))
            {
                pad.OnBuffer(outputs.Picture);
            }
            using (var mixed = pipeline.Get("mixed"))
            using (var pad = mixed.StaticPad("sink"))
            {
                pad.OnBuffer(outputs.Sound);
            }
            using (var queue = pipeline.Get("toencoder"))
            using (var pad = queue.StaticPad("src"))
            {
                pad.OnBuffer(pts => outputs.Encoded(pts, 1_000_000_000L / spec.FrameRate));
            }
            var comp = pipeline.Get("comp");
            var built = new Started(pipeline, comp, AddOutline(pipeline, comp), outputs);
            // Its running time's origin fixed before any element starts (PlayOnSystemClock): set on the way to playing,
            // a mixer's thread could see the clock before its base time, put out its first output at once with no
            // input, and the sound mixer then ended its stream: the sound mixer putting out nothing from the start,
            // for the whole segment, a file with the picture only (seen in about 1 to 4 % of starts before).
            pipeline.PlayOnSystemClock();
            // Inputs are added only once the pipeline is playing and both mixers have put out their first picture and
            // sound (FirstOutputBound). A pipeline whose mixers do not is built again, up to three times, before any
            // input is in it, so that the segment goes on whole rather than ending as a stalled mixer (Stalled) with
            // a gap.
            if (pipeline.WaitState(TimeSpan.FromSeconds(5)) != GstState.Playing)
            {
                pipeline.SetState(GstState.Null);
                built.Dispose();
                host.Say("error the pipeline did not start playing within 5 s");
                return null;
            }
            var bound = FirstOutputBound(attempt);
            if (outputs.WaitFirst(bound) is not { } silent)
            {
                // In the segment's log: how soon the mixers came up (the bound's margin).
                Console.Error.WriteLine($"first output {outputs.FirstMs.Picture} ms (picture), {outputs.FirstMs.Sound} ms (sound) after the pipeline was built");
                host.ReleaseGrabs(say: true);
                return built;
            }
            pipeline.SetState(GstState.Null);
            built.Dispose();
            host.ReleaseGrabs(say: false);
            var what = $"the {silent} mixer put out nothing within {bound.TotalMilliseconds:0} ms of playing";
            if (attempt == FirstOutputAttempts)
            {
                host.Say($"error {what}, in {attempt} pipelines built");
                return null;
            }
            Console.Error.WriteLine($"{what}: building the pipeline again ({attempt + 1} of {FirstOutputAttempts})");
        }
    }

    /// <summary>A pipeline the host built (<see cref="Start"/>) with what it keeps of it: the video mixer, the outline's
    /// bars (<see cref="AddOutline"/>) and the mixers' outputs; disposed with the host, or when it is built again.</summary>
    private sealed class Started(GstElement pipeline, GstElement comp, List<(GstElement Bin, GstPad Pad)> outline, MixerOutputs outputs) : IDisposable
    {
        public GstElement Pipeline { get; } = pipeline;

        public GstElement Comp { get; } = comp;

        public List<(GstElement Bin, GstPad Pad)> Outline { get; } = outline;

        public MixerOutputs Outputs { get; } = outputs;

        public void Dispose()
        {
            foreach (var (bin, pad) in Outline)
            {
                pad.Dispose();
                bin.Dispose();
            }
            Comp.Dispose();
            Pipeline.Dispose();
        }
    }

    /// <summary>The participant's name on a video bin's <c>label</c>, and its initial on a camera-off tile's
    /// <c>initial</c>, where the bin has them.</summary>
    private static void Name(GstElement bin, string display)
    {
        if (bin.Child("label") is { } label)
        {
            using (label)
            {
                label.Set("text", display);
            }
        }
        if (bin.Child("initial") is { } initial)
        {
            using (initial)
            {
                initial.Set("text", display.Length > 0 ? display[..1].ToUpperInvariant() : "?");
            }
        }
    }

    /// <summary>How many pipelines the host builds, at most, to get one whose mixers both put out
    /// (<see cref="FirstOutputBound"/>).</summary>
    public const int FirstOutputAttempts = 3;

    /// <summary>How long after a pipeline plays both its mixers must have put out their first picture and sound before
    /// the host builds it again: 0.5 s for the first pipeline, then twice as long for each one built again (1 s, 2 s),
    /// so that a machine too busy to start one in time gets it on a later try. Their live black and silent sources
    /// feed them from the start, so neither waits for its latency: over 400 hosts in a row (2 s recordings, two
    /// participants, the machine quiet and then busy with other media work) the sound came 72 ms after the pipeline was
    /// built at p50, 112 ms at p95 and 336 ms at most (parse and state change included; the bound counts from
    /// PLAYING). A mixer stuck at the start never puts out: seen in 7 of those 400 (more often when the machine was
    /// busy), 2 of about 55 beside a build and 1 of 104 quiet, always the sound mixer, and every one came up on the
    /// second pipeline; one left alone stayed silent for a whole 24 s segment.</summary>
    public static TimeSpan FirstOutputBound(int attempt) => TimeSpan.FromMilliseconds(500 << Math.Clamp(attempt - 1, 0, 4));

    /// <summary>The last picture and sound the mixers put out (running time, ns; -1 for none yet), from probes on
    /// the streaming threads, and the waits on them: for the first of both as the pipeline starts, for the moment of
    /// the stop at the end.</summary>
    internal sealed class MixerOutputs
    {
        private readonly object _gate = new(); // Monitor.Wait/PulseAll
        private long _picture = -1;
        private long _sound = -1;
        private readonly long _created = Environment.TickCount64;
        private long _firstPictureMs = -1;
        private long _firstSoundMs = -1;
        private long _composited;
        private long _encoded;
        private long _lastEncoded = -1;
        private long _dropped;
        private long _firstDrop = -1;
        private long _lastDrop = -1;

        public long LastPicture => Interlocked.Read(ref _picture);

        public long LastSound => Interlocked.Read(ref _sound);

        public void Picture(long pts)
        {
            Interlocked.Increment(ref _composited);
            Put(ref _picture, pts, ref _firstPictureMs);
        }

        /// <summary>A picture (stamped <paramref name="pts"/>, ns) left the queue in front of the encoder
        /// (<c>toencoder</c>), which drops the oldest when the encoder is behind; <paramref name="frameNs"/> is a
        /// picture's duration, so that a jump of one and a half or more counts the pictures dropped there (the jump in
        /// pictures, rounded, less one). One streaming thread calls it.</summary>
        public void Encoded(long pts, long frameNs)
        {
            Interlocked.Increment(ref _encoded);
            var missed = _lastEncoded < 0 ? 0 : ((pts - _lastEncoded + (frameNs / 2)) / frameNs) - 1;
            if (missed > 0)
            {
                Interlocked.Add(ref _dropped, missed);
                if (_firstDrop < 0)
                {
                    Interlocked.Exchange(ref _firstDrop, _lastEncoded);
                }
                Interlocked.Exchange(ref _lastDrop, pts);
            }
            _lastEncoded = pts;
        }

        /// <summary>Pictures the mixer put out, those of them that reached the encoder, those the queue in front of it
        /// dropped, and the running time (ns) from the first picture before a drop to the last one after a drop (-1, -1
        /// for none). The rest of the pictures put out were still in the queue when the pipeline ended.</summary>
        public (long Composited, long Encoded, long Dropped, long FirstDrop, long LastDrop) Pictures =>
            (Interlocked.Read(ref _composited), Interlocked.Read(ref _encoded), Interlocked.Read(ref _dropped), Interlocked.Read(ref _firstDrop), Interlocked.Read(ref _lastDrop));

        public void Sound(long pts) => Put(ref _sound, pts, ref _firstSoundMs);

        /// <summary>When each mixer first put out, in ms after this was made (as the pipeline was built); -1 for not
        /// yet.</summary>
        public (long Picture, long Sound) FirstMs => (Interlocked.Read(ref _firstPictureMs), Interlocked.Read(ref _firstSoundMs));

        private void Put(ref long last, long pts, ref long firstMs)
        {
            lock (_gate)
            {
                if (firstMs < 0)
                {
                    firstMs = Environment.TickCount64 - _created;
                }
                last = pts;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Null once both mixers have put out something within <paramref name="bound"/>; otherwise which has
        /// not (<c>picture</c>, <c>sound</c>, or <c>picture and sound</c>).</summary>
        public string? WaitFirst(TimeSpan bound) =>
            Wait(() => _picture >= 0 && _sound >= 0, bound) ? null
            : (LastPicture < 0, LastSound < 0) switch
            {
                (true, true) => "picture and sound",
                (true, false) => "picture",
                _ => "sound",
            };

        /// <summary>Whether both mixers put out the moments <paramref name="picture"/> and <paramref name="sound"/>
        /// (running time, ns) within <paramref name="bound"/>.</summary>
        public bool WaitUntil(long picture, long sound, TimeSpan bound) => Wait(() => _picture >= picture && _sound >= sound, bound);

        private bool Wait(Func<bool> done, TimeSpan bound)
        {
            var deadline = Environment.TickCount64 + (long)bound.TotalMilliseconds;
            lock (_gate)
            {
                while (!done())
                {
                    var left = deadline - Environment.TickCount64;
                    if (left <= 0)
                    {
                        return false;
                    }
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
                }
                return true;
            }
        }
    }

    /// <summary>How far behind the pipeline's running time a mixer's output may fall before the host gives up on it:
    /// the mixers' latency (<see cref="CompositorSpec.JitterMs"/> + <see cref="CompositorSpec.MarginMs"/>) and 2.5 s
    /// more. A mixer is that far behind on a machine so busy that the recording is lost anyway, or when it has stopped
    /// putting out: seen, rarely, as a segment whose sound mixer put out nothing at all, a file with one track.</summary>
    public static long StallBound(CompositorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return (spec.JitterMs + spec.MarginMs + 2500) * 1_000_000L;
    }

    /// <summary>What is wrong when the picture's or the sound's mixer has put out nothing for more than
    /// <paramref name="bound"/> ns of running time (<paramref name="live"/>): its last output (<paramref name="picture"/>,
    /// <paramref name="sound"/>; -1 for none yet, counted from 0) that far behind. Null while both keep up. The host
    /// then ends as a failed capture (exit 1, <see cref="PipelineHost.RunUntilStopped"/>), and the recording's runner
    /// starts the next segment, as it does for any capture lost: a gap in place of a file without its sound or picture
    /// for the rest of the segment.</summary>
    public static string? Stalled(long live, long picture, long sound, long bound)
    {
        foreach (var (what, last) in (ReadOnlySpan<(string, long)>)[("picture", picture), ("sound", sound)])
        {
            if (live - Math.Max(last, 0) > bound)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"the {what} mixer stalled: running at {live / 1e9:0.000} s, its output {(last < 0 ? "none" : $"at {last / 1e9:0.000} s")}");
            }
        }
        return null;
    }

    private static void Place(GstPad pad, Tile tile)
    {
        pad.Set("xpos", I(tile.X));
        pad.Set("ypos", I(tile.Y));
        pad.Set("width", I(tile.Width));
        pad.Set("height", I(tile.Height));
    }

    /// <summary>The four bars of the active speaker's outline (<see cref="CompositorPipeline.OutlineBin"/>), above
    /// every tile (a high <c>zorder</c>; a tile's pad gets the number of the mixer's pads when it is added) and
    /// transparent until someone talks.</summary>
    private static List<(GstElement Bin, GstPad Pad)> AddOutline(GstElement pipeline, GstElement comp)
    {
        var bars = new List<(GstElement, GstPad)>(4);
        for (var i = 0; i < 4; i++)
        {
            var bin = GstElement.Bin(CompositorPipeline.OutlineBin(), ghostUnlinkedPads: false);
            bin.GhostSource("out");
            pipeline.Add(bin);
            var pad = comp.RequestPad("sink_%u");
            pad.Set("zorder", I(1_000_000 + i));
            pad.Set("alpha", "0.0");
            pad.Set("width", "1");
            pad.Set("height", "1");
            using (var src = bin.StaticPad("src"))
            {
                src.Link(pad);
            }
            bars.Add((bin, pad));
        }
        return bars;
    }
}
