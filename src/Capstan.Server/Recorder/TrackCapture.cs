using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Processes;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>What a track recording needs from the track recorder.</summary>
public sealed record TrackRecorderContext(
    RecorderOptions Options, IServiceScopeFactory Scopes, JanusInstances Janus, DefaultBucket Bucket, Storage.UploadSpool Spool,
    Security.SecretProtector Protector, RecorderSignals Signals, TimeProvider Time, ILogger Logger, string Owner, string WorkDir,
    string JanusRecordingsDir)
{
    /// <summary>What the job runner needs of it.</summary>
    public RecordingJobContext Job => new(Options, Scopes, Bucket, Spool, Protector, Signals, Time, Logger, Owner, null);
}

/// <summary>The capture of a track recording (<c>POST .../recordings/track</c>; run by <see cref="RecordingJob"/>,
/// which says when to record, pause and stop). Janus's VideoRoom records each publisher's tracks itself (one
/// <c>.mjr</c> per track): this capture points the meeting's room at a folder of its own (<c>edit new_rec_dir</c>)
/// and switches the room's recording on and off (<c>enable_recording</c>) as the recording runs, pauses, resumes
/// and stops; publishers that join later are recorded by Janus as they publish. Then each peer's tracks are turned
/// into one WebM per peer and media kind (<c>janus-pp-rec</c>, joined without re-encoding), and a sync manifest is
/// written beside them. A worker that stops leaves Janus recording: the capture goes on when the job is taken back.</summary>
public sealed partial class TrackCapture(RecordingJobRecord record, TrackRecorderContext ctx) : IRecordingCapture
{
    /// <summary>The meeting page publishes its camera and microphone.</summary>
    public const string StreamKind = "webcam";

    /// <summary>The <c>stream_kind</c> of a shared screen's files (its video, and its audio when it has any).</summary>
    public const string ScreenShareKind = "screenshare";

    private readonly string _dir = Path.Combine(ctx.WorkDir, "track-" + record.Job.RecordingId.ToString("D"));
    private readonly string _recDir = Path.Combine(ctx.JanusRecordingsDir, record.Job.RecordingId.ToString("D"));
    private TrackState _state = new();
    private bool _loaded;
    private int _runs;

    private RecordingRow Recording => record.Recording;

    private EffectiveRecordingConfig Config => record.Config.Track is null ? throw new InvalidOperationException("a TRACK recording without its track config") : record.Config;

    private string StatePath => Path.Combine(_dir, "state.json");

    public string Dir => _dir;

    public string Kind => "janus";

    /// <summary>The room still records into this recording's folder (kept in <c>state.json</c>).</summary>
    public bool Capturing => LoadState()._state.Active;

    public double RecordedSeconds
    {
        get
        {
            var now = ctx.Time.GetUtcNow().UtcDateTime;
            return _state.Intervals.Sum(i => ((i.End ?? now) - i.Start).TotalSeconds);
        }
    }

    public TimeSpan NextCheck(bool awaitingFrame) => ctx.Options.PollInterval;

    public void Tag(System.Diagnostics.Activity span)
    {
        ArgumentNullException.ThrowIfNull(span);
        span.SetTag("capstan.janus_room", _state.RoomId);
        span.SetTag("capstan.feeds", _state.Feeds.Count);
    }

    private TrackCapture LoadState()
    {
        if (!_loaded)
        {
            _loaded = true;
            if (File.Exists(StatePath))
            {
                _state = Mapping.Read<TrackState>(File.ReadAllText(StatePath));
            }
        }
        return this;
    }

    /// <summary>Janus went on recording while no worker ran the job: no gap.</summary>
    public Task<DateTime?> ResumeAsync(bool wasRecording, CancellationToken ct)
    {
        LoadState();
        return Task.FromResult<DateTime?>(null);
    }

    public Task OpenAsync(bool gapOpen, CancellationToken ct) => Task.CompletedTask;

    public async Task RecordAsync(CancellationToken ct) => await SwitchAsync(true, ct);

    public async Task PauseAsync(DateTime at, CancellationToken ct) => await SwitchAsync(false, ct);

    public async Task StopAsync(CancellationToken ct) => await SwitchAsync(false, ct);

    /// <summary>The feeds (who is who) as they come; the recording began when the room's recording was first switched on.</summary>
    public async Task<CaptureCheck> CheckAsync(bool awaitingFrame, CancellationToken ct)
    {
        await RefreshFeedsAsync(ct);
        return new CaptureCheck(_state.Active && _state.Intervals.Count > 0 ? _state.Intervals[0].Start : null);
    }

    /// <summary>Nothing to restart: Janus records.</summary>
    public Task RestartAsync(int restart, bool gapOpen, CancellationToken ct) => Task.CompletedTask;

    public string Tail() => string.Empty;

    public void LogFirstFrame(DateTime first, RecordingGap? gap)
    {
        if (gap is null)
        {
            LogStarted(ctx.Logger, (first - Recording.InvokedTime).TotalMilliseconds);
        }
    }

    /// <summary>Janus's files are read where they are: nothing to end.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Turns the room's recording on (into this recording's folder) or off. Off closes every open track
    /// file at once. A room that is gone (session ended, Janus restarted) has closed its files already. True
    /// when the room is recording for this session.</summary>
    private async Task<bool> SwitchAsync(bool on, CancellationToken ct)
    {
        var room = await WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().MeetingRooms.AsNoTracking().FirstOrDefaultAsync(r => r.MeetingId == Recording.MeetingId, ct));
        if (_state.Active && (!on || room is null || room.RoomId != _state.RoomId))
        {
            if (room is not null && room.RoomId == _state.RoomId && ctx.Janus.Find(room.JanusUrl) is { } current)
            {
                await TryRoomRequestAsync(current, room, new JsonObject { ["request"] = "enable_recording", ["record"] = false }, ct);
            }
            _state.Active = false;
            _state.Intervals[^1].End = ctx.Time.GetUtcNow().UtcDateTime;
            await SaveStateAsync(ct);
        }
        if (!on || _state.Active)
        {
            return _state.Active;
        }
        if (room is null)
        {
            return false;
        }
        var janus = ctx.Janus.Find(room.JanusUrl)
            ?? throw new InvalidOperationException($"the meeting's room is on a Janus this node does not manage ({room.JanusUrl}); track recording runs beside the room's Janus");
        Directory.CreateDirectory(_recDir);
        await RoomRequestAsync(janus, room, new JsonObject { ["request"] = "edit", ["new_rec_dir"] = _recDir }, ct);
        await RoomRequestAsync(janus, room, new JsonObject { ["request"] = "enable_recording", ["record"] = true }, ct);
        _state.Active = true;
        _state.RoomId = room.RoomId;
        _state.Intervals.Add(new TrackInterval { Start = ctx.Time.GetUtcNow().UtcDateTime });
        await SaveStateAsync(ct);
        LogSwitched(ctx.Logger, room.RoomId, true);
        return true;
    }

    private static Task RoomRequestAsync(JanusInstance janus, MeetingRoomRow room, JsonObject body, CancellationToken ct)
    {
        body["room"] = room.RoomId;
        body["secret"] = room.Secret;
        return janus.Client.VideoRoomAsync(body, ct);
    }

    private async Task TryRoomRequestAsync(JanusInstance janus, MeetingRoomRow room, JsonObject body, CancellationToken ct)
    {
        try
        {
            await RoomRequestAsync(janus, room, body, ct);
        }
        catch (Exception e) when (e is JanusException or HttpRequestException)
        {
            LogJanusFailed(ctx.Logger, e.Message);
        }
    }

    /// <summary>Remembers which participant each Janus feed is: the feed table is cleared when the room goes.</summary>
    private async Task RefreshFeedsAsync(CancellationToken ct)
    {
        var known = _state.Feeds.Keys.ToList();
        var rows = await WithScopeAsync(async s =>
        {
            var db = s.GetRequiredService<CapstanDbContext>();
            return await (from f in db.JanusFeeds.AsNoTracking()
                          where f.MeetingId == Recording.MeetingId && f.PeerId != null && !known.Contains(f.FeedId)
                          join p in db.SessionPeers.AsNoTracking() on f.PeerId equals p.Id
                          select new { f.FeedId, PeerId = p.Id, p.ParticipantId, p.CustomParticipantId, p.DisplayName }).ToListAsync(ct);
        });
        // Screen shares of this session's peers: each share span keeps its feed (SessionService.ShareStartedAsync),
        // so a worker on another node knows them too.
        var sharers = await WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().SessionPeers.AsNoTracking()
            .Where(p => p.SessionId == Recording.SessionId && p.ScreenSharesJson != null).ToListAsync(ct));
        var shares = sharers.SelectMany(p => SessionService.SharesOf(p).Where(x => !known.Contains(x.FeedId))
            .Select(x => new ShareFeed(x.FeedId, p.Id, p.ParticipantId, p.CustomParticipantId, p.DisplayName))).ToList();
        if (rows.Count == 0 && shares.Count == 0)
        {
            return;
        }
        foreach (var r in rows)
        {
            _state.Feeds[r.FeedId] = new TrackFeed
            {
                PeerId = r.PeerId, ParticipantId = r.ParticipantId, DisplayName = r.DisplayName,
                UserId = TrackFeed.UserIdOf(r.CustomParticipantId, r.ParticipantId, r.PeerId),
            };
        }
        foreach (var share in shares)
        {
            // A screen share is a feed of its own (Meetings/ScreenShares.cs), recorded as its sharer's, stream_kind screenshare.
            _state.Feeds[share.Feed] = new TrackFeed
            {
                PeerId = share.PeerId, ParticipantId = share.ParticipantId, DisplayName = share.DisplayName, StreamKind = ScreenShareKind,
                UserId = TrackFeed.UserIdOf(share.CustomParticipantId, share.ParticipantId, share.PeerId),
            };
        }
        await SaveStateAsync(ct);
    }

    /// <summary>The feeds as last known, then one WebM per peer, stream kind, media kind and layer, and the manifest.</summary>
    public async Task<CaptureDelivery?> ProduceAsync(CancellationToken ct)
    {
        await RefreshFeedsAsync(ct);
        return await ProduceAsync(Path.Combine(_dir, "out"), ct);
    }

    public void Produced()
    {
    }

    public string NothingCaptured =>
        "no participant track was recorded: nobody published " + string.Join(" or ", Config.Track!.Layers.Select(l => l.MediaKind).Distinct())
        + (Config.Track.UserIds.Count > 0 ? " among user_ids " + string.Join(", ", Config.Track.UserIds) : string.Empty) + " while the recording was on";

    /// <summary>One destination per layer: its files and the manifest (named for the layer outside the default bucket).</summary>
    public IReadOnlyList<CaptureDestination> Destinations =>
        Config.Track!.Layers.Select(layer => new CaptureDestination(layer.Name, layer.DefaultBucket, layer.Storage,
            f => f.Layer == layer.Name || f.Layer is null, f => f.Layer is null ? ExternalManifestName(layer) : f.Name)).ToList();

    /// <summary>The media files' total size, the recorded time, the manifest's SHA-256, and each default-bucket
    /// layer's links (<c>track_downloads</c>).</summary>
    public DeliveredRecording Describe(CaptureDelivery delivery, IReadOnlyDictionary<string, string> links)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(links);
        var layers = Config.Track!.Layers;
        var json = new JsonArray();
        foreach (var layer in layers.Where(l => l.DefaultBucket))
        {
            var urls = new JsonObject();
            foreach (var f in delivery.Files.Where(f => f.Layer == layer.Name || f.Layer is null))
            {
                urls[f.Name] = new JsonObject { ["download_url"] = links.GetValueOrDefault(f.Name) };
            }
            json.Add(new JsonObject { ["layer_name"] = layer.Name, ["download_urls"] = urls });
        }
        return new DeliveredRecording(delivery.Files.Where(f => f.Layer is not null).Sum(f => f.Size), (long)Math.Round(RecordedSeconds, MidpointRounding.AwayFromZero),
            delivery.Files.First(f => f.Layer is null).Sha256, TrackDownloadsJson: layers.Any(l => l.DefaultBucket) ? json.ToJsonString() : null);
    }

    private string ExternalManifestName(TrackLayerConfig layer) =>
        $"{layer.FileNamePrefix}_manifest_{new DateTimeOffset(Recording.InvokedTime).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}.json";

    /// <summary>One WebM per peer, media kind and layer from the recorded tracks, plus the manifest (the entry
    /// with no layer). Null when no track matches. Headers, extractions and joins run on every core at once.</summary>
    private async Task<CaptureDelivery?> ProduceAsync(string outDir, CancellationToken ct)
    {
        Directory.CreateDirectory(outDir);
        var segDir = Path.Combine(_dir, "segments");
        Directory.CreateDirectory(segDir);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount), CancellationToken = ct };

        var found = new System.Collections.Concurrent.ConcurrentBag<RecordedTrack>();
        var files = Directory.Exists(_recDir) ? Directory.GetFiles(_recDir, "*.mjr") : [];
        await Parallel.ForEachAsync(files, parallel, async (file, c) =>
        {
            if (MjrName.TryParse(file) is not { Kind: not "data" } name)
            {
                return;
            }
            // Janus writes a track file's header with its first packet: a file without one received nothing.
            if (MjrHeader.TryParse(await RunAsync("janus-pp-rec", ctx.Options.JanusPpRec, TrackArgs.Header(file), c)) is { } header)
            {
                found.Add(new RecordedTrack(name, header, file));
            }
            else
            {
                LogEmptyTrack(ctx.Logger, name.Kind, name.Feed, Path.GetFileName(file));
            }
        });

        // What each layer delivers: per known peer (and allowed user) of its media kind, that peer's track files in order.
        var outputs = new List<(TrackLayerConfig Layer, TrackFeed Feed, List<RecordedTrack> Tracks)>();
        // One output per peer and stream kind: a screen shared twice is two feeds (one per share), one file with a
        // segment each, as a paused-apart camera.
        foreach (var layer in Config.Track!.Layers)
        {
            var byOwner = new Dictionary<(Guid Peer, string Kind), (TrackFeed Feed, List<RecordedTrack> Tracks)>();
            foreach (var group in found.Where(t => t.Name.Kind == layer.MediaKind).GroupBy(t => t.Name.Feed).OrderBy(g => g.Key))
            {
                if (!_state.Feeds.TryGetValue(group.Key, out var feed))
                {
                    LogUnknownFeed(ctx.Logger, group.Key);
                }
                else if (Config.Track.UserIds.Count == 0 || Config.Track.UserIds.Contains(feed.UserId))
                {
                    if (!byOwner.TryGetValue((feed.PeerId, feed.StreamKind), out var owned))
                    {
                        byOwner[(feed.PeerId, feed.StreamKind)] = owned = (feed, []);
                    }
                    owned.Tracks.AddRange(group);
                }
            }
            outputs.AddRange(byOwner.Values.Select(o => (layer, o.Feed, o.Tracks.OrderBy(t => t.Header.FirstPacketMicros).ToList())));
        }

        // Each track file to a container without re-encoding, with its length.
        var extracted = new System.Collections.Concurrent.ConcurrentDictionary<string, (string File, long DurationMs)>();
        await Parallel.ForEachAsync(outputs.SelectMany(o => o.Tracks).DistinctBy(t => t.Path), parallel, async (t, c) =>
        {
            var target = Path.Combine(segDir, Path.GetFileNameWithoutExtension(t.Path) + "." + TrackArgs.ExtractExtension(t.Header.Codec));
            await RunAsync("janus-pp-rec", ctx.Options.JanusPpRec, TrackArgs.Extract(t.Path, target), c, log: true);
            extracted[t.Path] = (target, File.Exists(target) ? (long)Math.Round(await ProbeDurationAsync(target, c) * 1000) : 0);
        });

        var session = await WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().Sessions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == Recording.SessionId, ct));
        var zero = session?.StartedAt ?? Recording.StartedTime ?? Recording.InvokedTime;
        var zeroMs = new DateTimeOffset(zero, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var epoch = new DateTimeOffset(Recording.InvokedTime, TimeSpan.Zero).ToUnixTimeMilliseconds();

        // Each output: its segments joined into one WebM, described for the manifest.
        var entries = new TrackManifestFile?[outputs.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, outputs.Count), parallel, async (i, c) =>
        {
            var (layer, feed, tracks) = outputs[i];
            var segments = tracks.Select(t => (Track: t, Extracted: extracted[t.Path])).Where(x => x.Extracted.DurationMs > 0)
                .Select(x => (x.Extracted.File, StartMs: x.Track.Header.FirstPacketMicros / 1000 - zeroMs, x.Extracted.DurationMs, x.Track.Header.Codec)).ToList();
            if (segments.Count == 0)
            {
                return;
            }
            var codec = segments[^1].Codec;
            var fileName = TrackArgs.FileName(layer.FileNamePrefix, feed.UserId, feed.PeerId, feed.StreamKind, layer.MediaKind, epoch);
            var output = Path.Combine(outDir, fileName);
            var list = Path.Combine(segDir, fileName + ".txt");
            await File.WriteAllLinesAsync(list, segments.Select(s => "file '" + s.File.Replace("'", "'\\''", StringComparison.Ordinal) + "'"), c);
            await RunAsync("ffmpeg", ctx.Options.Ffmpeg, TrackArgs.Join(list, output, transcodeToVp8: codec == "h264"), c, log: true);
            var item = await Storage.UploadItem.ForFileAsync(output, fileName, c);
            var entry = new TrackManifestFile
            {
                Layer = layer.Name, FileName = fileName, UserId = feed.UserId, ParticipantId = feed.ParticipantId is { } p ? Ids.Format(p) : null,
                PeerId = Ids.Format(feed.PeerId), DisplayName = feed.DisplayName, StreamKind = feed.StreamKind, MediaKind = layer.MediaKind,
                Codec = codec == "h264" ? "vp8" : codec, SourceCodec = codec == "h264" ? "h264" : null,
                StartMs = segments[0].StartMs, EndMs = segments[^1].StartMs + segments[^1].DurationMs,
                DurationMs = (long)Math.Round(await ProbeDurationAsync(output, c) * 1000), Size = item.Size, Sha256 = item.Sha256Hex,
            };
            long offset = 0;
            foreach (var s in segments)
            {
                entry.Segments.Add(new TrackManifestSegment { FileOffsetMs = offset, StartMs = s.StartMs, DurationMs = s.DurationMs });
                offset += s.DurationMs;
            }
            // The joined file shows its last frame for a frame's time, which the extracted part's length may leave
            // out: 193 ms at a screen share's 5 fps (measured: parts 2.799 s, file 2.992 s). The last segment runs to
            // the end of the file, so that the manifest describes the file as it plays.
            var last = entry.Segments[^1];
            if (entry.DurationMs - last.FileOffsetMs > last.DurationMs)
            {
                last.DurationMs = entry.DurationMs - last.FileOffsetMs;
                entry.EndMs = last.StartMs + last.DurationMs;
            }
            entries[i] = entry;
        });

        var manifest = new TrackManifest
        {
            RecordingId = Ids.Format(Recording.Id), MeetingId = Ids.Format(Recording.MeetingId), SessionId = session is null ? null : Ids.Format(session.Id),
            SessionStartedAt = zero, SessionStartedAtMs = zeroMs,
            Recorded = _state.Intervals.Select(i => new TrackManifestInterval
            {
                StartMs = Ms(i.Start) - zeroMs, EndMs = Ms(i.End ?? ctx.Time.GetUtcNow().UtcDateTime) - zeroMs,
            }).ToList(),
            Files = entries.OfType<TrackManifestFile>().ToList(),
        };
        if (manifest.Files.Count == 0)
        {
            return null;
        }
        var delivery = new CaptureDelivery
        {
            DurationSeconds = RecordedSeconds,
            Files = manifest.Files.Select(e => new CaptureFile { Role = "track", Layer = e.Layer, Path = Path.Combine(outDir, e.FileName), Name = e.FileName, Size = e.Size, Sha256 = e.Sha256 }).ToList(),
        };
        var manifestPath = Path.Combine(outDir, "manifest.json");
        await File.WriteAllTextAsync(manifestPath, JsonSerializer.Serialize(manifest, ManifestJson), ct);
        var m = await Storage.UploadItem.ForFileAsync(manifestPath, "manifest.json", ct);
        delivery.Files.Add(new CaptureFile { Role = "manifest", Layer = null, Path = manifestPath, Name = "manifest.json", Size = m.Size, Sha256 = m.Sha256Hex });
        return delivery;
    }

    /// <summary>One <c>.mjr</c> Janus wrote: its name's parts, its header, its path.</summary>
    private sealed record RecordedTrack(MjrName Name, MjrHeader Header, string Path);

    private static readonly JsonSerializerOptions ManifestJson = new(CapstanJson.Options) { WriteIndented = true };

    private static long Ms(DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeMilliseconds();

    /// <summary>A tool run to its end; with <paramref name="log"/>, one log file per run (runs go in parallel).</summary>
    private Task<string> RunAsync(string name, string tool, IReadOnlyList<string> args, CancellationToken ct, bool log = false) =>
        MediaTools.RunAsync(name, tool, args, log ? Path.Combine(_dir, "logs", $"{name}-{Interlocked.Increment(ref _runs):D3}.log") : null, TimeSpan.FromMinutes(30), ct);

    private async Task<double> ProbeDurationAsync(string file, CancellationToken ct) =>
        await MediaTools.DurationAsync(ctx.Options.Ffprobe, file, ct) ?? 0;

    private Task SaveStateAsync(CancellationToken ct) => WriteAtomicallyAsync(StatePath, Mapping.Write(_state), ct);

    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken ct)
    {
        await File.WriteAllTextAsync(path + ".tmp", text, ct);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private Task<T> WithScopeAsync<T>(Func<IServiceProvider, Task<T>> f) => record.Store.WithScopeAsync(f);

    public void CleanUp()
    {
        foreach (var d in new[] { _dir, _recDir }.Where(Directory.Exists))
        {
            Directory.Delete(d, recursive: true);
        }
    }

    /// <summary>Kept in the work folder so a restarted server goes on where it stopped.</summary>
    private sealed class TrackState
    {
        public bool Active { get; set; }

        public long RoomId { get; set; }

        public List<TrackInterval> Intervals { get; set; } = [];

        public Dictionary<long, TrackFeed> Feeds { get; set; } = [];
    }

    private sealed class TrackInterval
    {
        public DateTime Start { get; set; }

        public DateTime? End { get; set; }
    }

    private sealed record ShareFeed(long Feed, Guid PeerId, Guid? ParticipantId, string? CustomParticipantId, string? DisplayName);

    private sealed class TrackFeed
    {
        /// <summary>A file's <c>user_id</c>: the participant's custom id, else its id, else the peer's.</summary>
        public static string UserIdOf(string? customParticipantId, Guid? participantId, Guid peerId) =>
            customParticipantId ?? Ids.Format(participantId ?? peerId);

        /// <summary><see cref="StreamKind"/> (a camera and microphone) or <see cref="ScreenShareKind"/>.</summary>
        public string StreamKind { get; set; } = TrackCapture.StreamKind;

        public Guid PeerId { get; set; }

        public Guid? ParticipantId { get; set; }

        public required string UserId { get; set; }

        public string? DisplayName { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Track recording started {LatencyMs} ms after invoke")]
    private static partial void LogStarted(ILogger logger, double latencyMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {Room} recording switched {On}")]
    private static partial void LogSwitched(ILogger logger, long room, bool on);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Janus request failed: {Reason}")]
    private static partial void LogJanusFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Track files of feed {Feed} belong to no known participant; left out")]
    private static partial void LogUnknownFeed(ILogger logger, long feed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Kind} track file of feed {Feed} holds no packet (Janus received none from it while recording); left out: {File}")]
    private static partial void LogEmptyTrack(ILogger logger, string kind, long feed, string file);
}
