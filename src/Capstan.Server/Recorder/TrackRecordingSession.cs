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
    string JanusRecordingsDir);

/// <summary>One track recording (<c>POST .../recordings/track</c>), start to finish. Janus's VideoRoom records each
/// publisher's tracks itself (one <c>.mjr</c> per track): this session points the meeting's room at a folder of
/// its own (<c>edit new_rec_dir</c>) and switches the room's recording on and off (<c>enable_recording</c>) as the
/// recording runs, pauses, resumes and stops; publishers that join later are recorded by Janus as they publish.
/// Then each peer's tracks are turned into one WebM per peer and media kind (<c>janus-pp-rec</c>, joined without
/// re-encoding), a sync manifest is written beside them, and all of it is delivered like a composite recording.</summary>
public sealed partial class TrackRecordingSession(RecorderJobRow job, TrackRecorderContext ctx)
{
    /// <summary>The meeting page publishes its camera and microphone.</summary>
    public const string StreamKind = "webcam";

    /// <summary>The <c>stream_kind</c> of a shared screen's files (its video, and its audio when it has any).</summary>
    public const string ScreenShareKind = "screenshare";

    private readonly string _dir = Path.Combine(ctx.WorkDir, "track-" + job.RecordingId.ToString("D"));
    private readonly RecordingJobStore _store = new(ctx.Scopes, job);
    private readonly string _recDir = Path.Combine(ctx.JanusRecordingsDir, job.RecordingId.ToString("D"));
    private RecordingRow _recording = null!;
    private EffectiveRecordingConfig _config = null!;
    private TrackState _state = new();
    private int _runs;

    private string StatePath => Path.Combine(_dir, "state.json");

    public async Task RunAsync(CancellationToken stopping)
    {
        Directory.CreateDirectory(_dir);
        using var scopeLog = ctx.Logger.BeginScope(new Dictionary<string, object> { ["RecordingId"] = job.RecordingId, ["JobId"] = job.Id });
        await JobLease.RunAsync(ctx.Scopes, job, ctx.Owner, ctx.Options.Lease, ctx.Time, ctx.Logger, RunLeasedAsync,
            // The server is stopping (or the job was taken over): Janus keeps recording into the folder; the
            // session goes on when the job is claimed again.
            interrupted: _ => LogInterrupted(ctx.Logger),
            failed: async e =>
            {
                LogFailed(ctx.Logger, e);
                await FailAsync("the track recorder failed: " + e.Message, CancellationToken.None);
            },
            stopping);
    }

    private async Task RunLeasedAsync(CancellationToken ct)
    {
        await LoadAsync(ct);
        if (_recording.Status is RecordingStatus.Uploaded or RecordingStatus.Errored && !_state.Active)
        {
            await FinishJobAsync(JobStates.Done, ct);
            return;
        }
        if ((_recording.Status != RecordingStatus.Uploading || _state.Active) && !await CaptureAsync(ct))
        {
            return;
        }
        await DeliverAsync(ct);
    }

    /// <summary>Follows the recording's desired state until it stops. False when there is nothing to deliver.</summary>
    private async Task<bool> CaptureAsync(CancellationToken ct)
    {
        // The stretch during which Janus records the room's tracks (as the composite session's span of the same name).
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.capture");
        span?.SetTag("capstan.capture", "janus");
        try
        {
            return await FollowAsync(ct);
        }
        finally
        {
            span?.SetTag("capstan.janus_room", _state.RoomId);
            span?.SetTag("capstan.recorded_seconds", Math.Round(RecordedSeconds(), 3));
            span?.SetTag("capstan.feeds", _state.Feeds.Count);
        }
    }

    private async Task<bool> FollowAsync(CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var (desired, status, _) = await _store.ReadStateAsync(ct);
            await RefreshFeedsAsync(ct);
            if (status == RecordingStatus.Errored)
            {
                // Stopped before it started (decisions.md: cancelled, no files).
                await SwitchAsync(false, ct);
                await FinishJobAsync(JobStates.Cancelled, ct);
                CleanUp();
                return false;
            }
            if (status == RecordingStatus.Uploading || desired == JobStates.DesiredStop)
            {
                await SwitchAsync(false, ct);
                return true;
            }
            if (status == RecordingStatus.Paused || desired == JobStates.DesiredPause)
            {
                await SwitchAsync(false, ct);
            }
            else if (await SwitchAsync(true, ct) && _recording.Status == RecordingStatus.Invoked)
            {
                var started = _state.Intervals[0].Start;
                await UpdateRecordingAsync((r, l, c) => l.MarkStartedAsync(r, started, c), ct);
                LogStarted(ctx.Logger, (started - _recording.InvokedTime).TotalMilliseconds);
            }
            if (RecordedSeconds() >= _config.MaxSeconds)
            {
                await SwitchAsync(false, ct);
                await UpdateRecordingAsync(async (r, l, c) =>
                {
                    if (RecordingStatus.IsActive(r.Status))
                    {
                        await l.StopAsync(r, new ReasonDto { Reason = StopReasons.ApiCall, Caller = new CallerDto { Type = "INTERNAL", Name = "max_seconds" } }, c);
                    }
                }, ct);
                return true;
            }
            await ctx.Signals.WaitAsync(ctx.Options.PollInterval, ct);
        }
    }

    /// <summary>Turns the room's recording on (into this recording's folder) or off. Off closes every open track
    /// file at once. A room that is gone (session ended, Janus restarted) has closed its files already. True
    /// when the room is recording for this session.</summary>
    private async Task<bool> SwitchAsync(bool on, CancellationToken ct)
    {
        var room = await WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().MeetingRooms.AsNoTracking().FirstOrDefaultAsync(r => r.MeetingId == _recording.MeetingId, ct));
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
                          where f.MeetingId == _recording.MeetingId && f.PeerId != null && !known.Contains(f.FeedId)
                          join p in db.SessionPeers.AsNoTracking() on f.PeerId equals p.Id
                          select new { f.FeedId, PeerId = p.Id, p.ParticipantId, p.CustomParticipantId, p.DisplayName }).ToListAsync(ct);
        });
        // Screen shares granted in the room whose sharer is a peer of this session.
        var shares = await WithScopeAsync<List<ShareFeed>>(async s =>
        {
            var granted = s.GetRequiredService<Meetings.ScreenShares>().GrantedFeeds(_recording.MeetingId).Where(g => !known.Contains(g.Key)).ToList();
            if (granted.Count == 0)
            {
                return [];
            }
            var sharers = granted.Select(g => g.Value).Distinct().ToList();
            var peers = await s.GetRequiredService<CapstanDbContext>().SessionPeers.AsNoTracking()
                .Where(p => p.SessionId == _recording.SessionId && p.ParticipantId != null && sharers.Contains(p.ParticipantId.Value))
                .Select(p => new { PeerId = p.Id, p.ParticipantId, p.CustomParticipantId, p.DisplayName, p.JoinedAt }).ToListAsync(ct);
            return granted.Select(g => (Feed: g.Key, Peer: peers.Where(p => p.ParticipantId == g.Value).OrderByDescending(p => p.JoinedAt).FirstOrDefault()))
                .Where(x => x.Peer is not null)
                .Select(x => new ShareFeed(x.Feed, x.Peer!.PeerId, x.Peer.ParticipantId, x.Peer.CustomParticipantId, x.Peer.DisplayName))
                .ToList();
        });
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

    private double RecordedSeconds()
    {
        var now = ctx.Time.GetUtcNow().UtcDateTime;
        return _state.Intervals.Sum(i => ((i.End ?? now) - i.Start).TotalSeconds);
    }

    /// <summary>Converts, describes and delivers the files, then marks the recording UPLOADED (or ERRORED when
    /// no participant track was recorded).</summary>
    private async Task DeliverAsync(CancellationToken ct)
    {
        // janus-pp-rec, the joins and the manifest, then each upload (its own child span), as the composite session.
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.postprocess");
        await RefreshFeedsAsync(ct);
        var outDir = Path.Combine(_dir, "out");
        var produced = File.Exists(Path.Combine(_dir, "delivery.json"))
            ? Mapping.Read<TrackDelivery>(await File.ReadAllTextAsync(Path.Combine(_dir, "delivery.json"), ct))
            : await ProduceAsync(outDir, ct);
        if (produced is null)
        {
            await FailAsync("no participant track was recorded: nobody published " + string.Join(" or ", _config.Track!.Layers.Select(l => l.MediaKind).Distinct())
                + (_config.Track.UserIds.Count > 0 ? " among user_ids " + string.Join(", ", _config.Track.UserIds) : string.Empty) + " while the recording was on", ct);
            CleanUp();
            return;
        }
        await SaveDeliveryAsync(produced, ct);
        span?.SetTag("capstan.files", produced.Files.Count);

        var layers = _config.Track!.Layers;
        string? destinationError = null;
        if (layers.Any(l => l.DefaultBucket) && !produced.DefaultBucketDone)
        {
            foreach (var f in produced.Files.Where(f => f.Layer is null || layers.First(l => l.Name == f.Layer).DefaultBucket))
            {
                await ctx.Bucket.StoreAsync(_recording.AppId, _recording.Id, f.Path, f.Name, ct);
            }
            produced.DefaultBucketDone = true;
            await SaveDeliveryAsync(produced, ct);
        }
        foreach (var layer in layers.Where(l => l.Storage is not null && !produced.DestinationsDone.Contains(l.Name)))
        {
            var config = StorageConfigs.Unprotect(layer.Storage!, ctx.Protector);
            var items = new List<Storage.UploadItem>();
            foreach (var f in produced.Files.Where(f => f.Layer == layer.Name || f.Layer is null))
            {
                var name = f.Layer is null ? ExternalManifestName(layer) : f.Name;
                items.Add(new Storage.UploadItem(f.Path, Storage.ObjectKeys.For(config, name), Storage.ContentTypes.Of(name), f.Size, f.Sha256));
            }
            try
            {
                await ctx.Spool.DeliverAsync(config, items, ct);
                produced.DestinationsDone.Add(layer.Name);
                await SaveDeliveryAsync(produced, ct);
            }
            catch (Storage.StorageException e)
            {
                destinationError = e.Message;
            }
        }

        var expiry = ctx.Time.GetUtcNow().UtcDateTime + ctx.Bucket.Options.UrlExpiry;
        var links = new JsonArray();
        foreach (var layer in layers.Where(l => l.DefaultBucket))
        {
            var urls = new JsonObject();
            foreach (var f in produced.Files.Where(f => f.Layer == layer.Name || f.Layer is null))
            {
                urls[f.Name] = new JsonObject { ["download_url"] = await ctx.Bucket.SignedUrlAsync(_recording.AppId, _recording.Id, f.Name, expiry) };
            }
            links.Add(new JsonObject { ["layer_name"] = layer.Name, ["download_urls"] = urls });
        }
        var media = produced.Files.Where(f => f.Layer is not null).ToList();
        var size = media.Sum(f => f.Size);
        var seconds = (long)Math.Round(RecordedSeconds(), MidpointRounding.AwayFromZero);
        var anyBucket = layers.Any(l => l.DefaultBucket);
        await UpdateRecordingAsync(async (r, l, c) =>
        {
            r.TrackDownloadsJson = anyBucket ? links.ToJsonString() : null;
            r.Sha256 = produced.Files.First(f => f.Layer is null).Sha256;
            if (destinationError is null)
            {
                await l.CompleteAsync(r, size, seconds, null, null, anyBucket ? expiry : null, c);
                return;
            }
            r.FileSize = size;
            r.DurationSeconds = seconds;
            r.DownloadUrlExpiry = anyBucket ? expiry : null;
            await l.FailAsync(r, "delivery failed: " + destinationError, c);
        }, ct);
        await FinishJobAsync(JobStates.Done, ct);
        LogDelivered(ctx.Logger, media.Count, seconds, size);
        if (destinationError is null || anyBucket)
        {
            CleanUp();
        }
    }

    private string ExternalManifestName(TrackLayerConfig layer) =>
        $"{layer.FileNamePrefix}_manifest_{new DateTimeOffset(_recording.InvokedTime).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}.json";

    /// <summary>One WebM per peer, media kind and layer from the recorded tracks, plus the manifest (the entry
    /// with no layer). Null when no track matches. Headers, extractions and joins run on every core at once.</summary>
    private async Task<TrackDelivery?> ProduceAsync(string outDir, CancellationToken ct)
    {
        Directory.CreateDirectory(outDir);
        var segDir = Path.Combine(_dir, "segments");
        Directory.CreateDirectory(segDir);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount), CancellationToken = ct };

        var found = new System.Collections.Concurrent.ConcurrentBag<RecordedTrack>();
        var files = Directory.Exists(_recDir) ? Directory.GetFiles(_recDir, "*.mjr") : [];
        await Parallel.ForEachAsync(files, parallel, async (file, c) =>
        {
            if (MjrName.TryParse(file) is { Kind: not "data" } name
                && MjrHeader.TryParse(await RunAsync("janus-pp-rec", ctx.Options.JanusPpRec, TrackArgs.Header(file), c)) is { } header)
            {
                found.Add(new RecordedTrack(name, header, file));
            }
        });

        // What each layer delivers: per known peer (and allowed user) of its media kind, that peer's track files in order.
        var outputs = new List<(TrackLayerConfig Layer, TrackFeed Feed, List<RecordedTrack> Tracks)>();
        // One output per peer and stream kind: a screen shared twice is two feeds (one per share), one file with a
        // segment each, as a paused-apart camera.
        foreach (var layer in _config.Track!.Layers)
        {
            var byOwner = new Dictionary<(Guid Peer, string Kind), (TrackFeed Feed, List<RecordedTrack> Tracks)>();
            foreach (var group in found.Where(t => t.Name.Kind == layer.MediaKind).GroupBy(t => t.Name.Feed).OrderBy(g => g.Key))
            {
                if (!_state.Feeds.TryGetValue(group.Key, out var feed))
                {
                    LogUnknownFeed(ctx.Logger, group.Key);
                }
                else if (_config.Track.UserIds.Count == 0 || _config.Track.UserIds.Contains(feed.UserId))
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

        var session = await WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().Sessions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == _recording.SessionId, ct));
        var zero = session?.StartedAt ?? _recording.StartedTime ?? _recording.InvokedTime;
        var zeroMs = new DateTimeOffset(zero, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var epoch = new DateTimeOffset(_recording.InvokedTime, TimeSpan.Zero).ToUnixTimeMilliseconds();

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
            RecordingId = Ids.Format(_recording.Id), MeetingId = Ids.Format(_recording.MeetingId), SessionId = session is null ? null : Ids.Format(session.Id),
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
        var delivery = new TrackDelivery
        {
            Files = manifest.Files.Select(e => new TrackDeliveredFile { Layer = e.Layer, Path = Path.Combine(outDir, e.FileName), Name = e.FileName, Size = e.Size, Sha256 = e.Sha256 }).ToList(),
        };
        var manifestPath = Path.Combine(outDir, "manifest.json");
        await File.WriteAllTextAsync(manifestPath, JsonSerializer.Serialize(manifest, ManifestJson), ct);
        var m = await Storage.UploadItem.ForFileAsync(manifestPath, "manifest.json", ct);
        delivery.Files.Add(new TrackDeliveredFile { Layer = null, Path = manifestPath, Name = "manifest.json", Size = m.Size, Sha256 = m.Sha256Hex });
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

    private async Task LoadAsync(CancellationToken ct)
    {
        _recording = await _store.LoadAsync(ct);
        _config = Mapping.Read<EffectiveRecordingConfig>(_recording.ConfigJson);
        if (_config.Track is null)
        {
            throw new InvalidOperationException("a TRACK recording without its track config");
        }
        if (File.Exists(StatePath))
        {
            _state = Mapping.Read<TrackState>(await File.ReadAllTextAsync(StatePath, ct));
        }
    }

    private Task SaveStateAsync(CancellationToken ct) => WriteAtomicallyAsync(StatePath, Mapping.Write(_state), ct);

    private Task SaveDeliveryAsync(TrackDelivery d, CancellationToken ct) => WriteAtomicallyAsync(Path.Combine(_dir, "delivery.json"), Mapping.Write(d), ct);

    private static async Task WriteAtomicallyAsync(string path, string text, CancellationToken ct)
    {
        await File.WriteAllTextAsync(path + ".tmp", text, ct);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private async Task UpdateRecordingAsync(Func<RecordingRow, RecordingLifecycle, CancellationToken, Task> change, CancellationToken ct) =>
        _recording = await _store.UpdateAsync(change, ct);

    private async Task FailAsync(string message, CancellationToken ct)
    {
        try
        {
            await SwitchAsync(false, ct);
            await UpdateRecordingAsync(async (r, l, c) =>
            {
                if (r.Status is not RecordingStatus.Uploaded and not RecordingStatus.Errored)
                {
                    await l.FailAsync(r, message, c);
                }
            }, ct);
            await FinishJobAsync(JobStates.Done, ct);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or JanusException or HttpRequestException or IOException)
        {
            LogFailed(ctx.Logger, e);
        }
    }

    private Task FinishJobAsync(string state, CancellationToken ct) => _store.FinishAsync(state, ct);

    private Task<T> WithScopeAsync<T>(Func<IServiceProvider, Task<T>> f) => _store.WithScopeAsync(f);

    private void CleanUp()
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
        public string StreamKind { get; set; } = TrackRecordingSession.StreamKind;

        public Guid PeerId { get; set; }

        public Guid? ParticipantId { get; set; }

        public required string UserId { get; set; }

        public string? DisplayName { get; set; }
    }

    private sealed class TrackDelivery
    {
        public List<TrackDeliveredFile> Files { get; set; } = [];

        public bool DefaultBucketDone { get; set; }

        public List<string> DestinationsDone { get; set; } = [];
    }

    /// <summary>A delivered file; <see cref="Layer"/> is null for the manifest (it goes with every layer).</summary>
    private sealed class TrackDeliveredFile
    {
        public string? Layer { get; set; }

        public required string Path { get; set; }

        public required string Name { get; set; }

        public long Size { get; set; }

        public required string Sha256 { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Track recording started {LatencyMs} ms after invoke")]
    private static partial void LogStarted(ILogger logger, double latencyMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {Room} recording switched {On}")]
    private static partial void LogSwitched(ILogger logger, long room, bool on);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Janus request failed: {Reason}")]
    private static partial void LogJanusFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Track files of feed {Feed} belong to no known participant; left out")]
    private static partial void LogUnknownFeed(ILogger logger, long feed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Track recorder interrupted; the recording continues when the job is claimed again")]
    private static partial void LogInterrupted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Track recording failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Track recording delivered: {Files} files, {Seconds} s, {Bytes} bytes")]
    private static partial void LogDelivered(ILogger logger, int files, long seconds, long bytes);
}
