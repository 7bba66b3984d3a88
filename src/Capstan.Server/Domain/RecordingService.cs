using System.Globalization;
using System.Text;
using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

public sealed record RecordingListFilter(
    Guid? MeetingId, bool? Expired, string? Search, bool Ascending, DateTime? Start, DateTime? End, IReadOnlyList<string> Statuses, PageRequest Page);

/// <summary>Starting, listing and controlling recordings. A start writes the INVOKED recording and its recorder
/// job in one transaction; the recorder worker claims the job. Nothing here pretends to record.</summary>
public sealed class RecordingService(CapstanDbContext db, TimeProvider time, SecretProtector protector, RecordingLifecycle lifecycle, StorageAliases storageAliases, RecorderSignals signals, RecordingCounts counts, OutboundTargets outbound,
    Microsoft.Extensions.Options.IOptions<Recorder.RecorderOptions> recorder)
{
    public async Task<RecordingRow> StartAsync(Guid appId, StartRecordingRequest? body, CancellationToken ct)
    {
        if (body is null)
        {
            throw CapstanException.Invalid("request body is required: meeting_id");
        }
        var v = new Validation();
        v.Required(body.MeetingId, "meeting_id");
        RecordingConfigs.ValidateStart(body, v, storageAliases.Types);
        v.ThrowIfAny();
        await outbound.UrlAsync(body.Url, "url", v, ct);
        await outbound.UrlAsync(body.VideoConfig?.Watermark?.Url, "video_config.watermark.url", v, ct);
        await outbound.UrlAsync(body.RtmpOutConfig?.RtmpUrl, "rtmp_out_config.rtmp_url", v, ct);
        await outbound.StorageAsync(body.StorageConfig, "storage_config", v, ct);
        v.ThrowIfAny();
        var meeting = await RecordableMeetingAsync(appId, body.MeetingId, ct);
        var meetingId = meeting.Id;
        var app = await db.Apps.AsNoTracking().FirstAsync(a => a.Id == appId, ct);
        var config = RecordingConfigs.Merge(body, Mapping.ReadStoredConfig(meeting.RecordingConfigJson), Mapping.ReadStoredConfig(app.DefaultRecordingConfigJson), protector);
        await outbound.InheritedAsync(body, config, protector, v, ct);
        v.ThrowIfAny();
        if (config.RtmpUrl is not null && config.VideoCodec != "H264")
        {
            throw CapstanException.Invalid($"rtmp_out_config needs video_config.codec H264 (RTMP carries H.264), got {config.VideoCodec}");
        }
        var reason = RecordingLifecycle.OrganizationCaller;
        return await InsertAsync(meeting, RecordingTypes.Composite, config, reason, ct);
    }

    /// <summary>Starts a recording because the meeting's session started (<c>record_on_start</c>): no caller.</summary>
    public async Task<RecordingRow?> StartOnSessionStartAsync(MeetingRow meeting, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(meeting);
        var app = await db.Apps.AsNoTracking().FirstAsync(a => a.Id == meeting.AppId, ct);
        var config = RecordingConfigs.Merge(new StartRecordingRequest(), Mapping.ReadStoredConfig(meeting.RecordingConfigJson), Mapping.ReadStoredConfig(app.DefaultRecordingConfigJson), protector);
        try
        {
            return await InsertAsync(meeting, RecordingTypes.Composite, config, new ReasonDto { Reason = "RECORD_ON_START" }, ct);
        }
        catch (CapstanException e) when (e.Category == ErrorCategory.Conflict)
        {
            return null;
        }
    }

    public async Task<RecordingRow> StartTrackAsync(Guid appId, TrackRecordingRequest? body, CancellationToken ct)
    {
        if (body is null)
        {
            throw CapstanException.Invalid("request body is required: meeting_id");
        }
        var v = new Validation();
        v.Required(body.MeetingId, "meeting_id");
        var track = TrackConfigs.Build(body, v, storageAliases.Types, protector, out var maxSeconds);
        v.ThrowIfAny();
        foreach (var layer in track.Layers.Where(l => l.Storage is not null))
        {
            await outbound.StorageAsync(StorageConfigs.Unprotect(layer.Storage!, protector), $"layers.{layer.Name}.storage_config", v, ct);
        }
        v.ThrowIfAny();
        var meeting = await RecordableMeetingAsync(appId, body.MeetingId, ct);
        var meetingId = meeting.Id;
        if (!await db.Sessions.AnyAsync(s => s.MeetingId == meetingId && s.Status == SessionService.Live, ct))
        {
            throw CapstanException.Invalid($"meeting {meetingId} has no live session: track recording needs participants in the meeting");
        }
        var config = new EffectiveRecordingConfig
        {
            VideoCodec = "VP8", AudioCodec = "OPUS", MaxSeconds = maxSeconds, Track = track, AllowMultiple = true,
            DefaultBucket = track.Layers.Any(l => l.DefaultBucket), Storage = track.Layers.Select(l => l.Storage).FirstOrDefault(s => s is not null),
        };
        if (await db.Recordings.AnyAsync(r => r.MeetingId == meetingId && r.Type == RecordingTypes.Track && RecordingStatus.ActiveStates.Contains(r.Status), ct))
        {
            throw TrackConflict(meetingId);
        }
        return await InsertAsync(meeting, RecordingTypes.Track, config, RecordingLifecycle.OrganizationCaller, ct);
    }

    /// <summary>The app's meeting named by <c>meeting_id</c>: 404 if it is not there, 400 if it is INACTIVE.</summary>
    private async Task<MeetingRow> RecordableMeetingAsync(Guid appId, string? meetingIdText, CancellationToken ct)
    {
        var meetingId = Ids.Parse(meetingIdText, "meeting_id");
        var meeting = await db.Meetings.AsNoTracking().FirstOrDefaultAsync(m => m.Id == meetingId && m.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No meeting found with id {meetingId}");
        if (meeting.Status != MeetingService.Active)
        {
            throw CapstanException.Invalid($"meeting {meetingId} is INACTIVE and cannot be recorded");
        }
        return meeting;
    }

    public async Task<RecordingRow> FindAsync(Guid appId, Guid recordingId, bool tracking, CancellationToken ct)
    {
        var q = tracking ? db.Recordings : db.Recordings.AsNoTracking();
        return await q.FirstOrDefaultAsync(r => r.Id == recordingId && r.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No recording found with id {recordingId}");
    }

    /// <summary>Where a recording waits for a recorder: 1 for the next job of its type to be claimed, counting
    /// the unclaimed jobs of that type in the order workers claim them (oldest first); null once a worker claimed
    /// it, or when it is not INVOKED.</summary>
    public async Task<int?> QueuePositionAsync(RecordingRow recording, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(recording);
        if (recording.Status != RecordingStatus.Invoked)
        {
            return null;
        }
        var job = await db.RecorderJobs.AsNoTracking().Where(j => j.RecordingId == recording.Id).Select(j => new { j.State, j.CreatedAt }).FirstOrDefaultAsync(ct);
        if (job is null || job.State != JobStates.Queued)
        {
            return null;
        }
        var ahead = await db.RecorderJobs.AsNoTracking()
            .Where(j => j.State == JobStates.Queued && j.CreatedAt < job.CreatedAt && db.Recordings.Any(r => r.Id == j.RecordingId && r.Type == recording.Type))
            .CountAsync(ct);
        return ahead + 1;
    }

    public async Task<RecordingRow> ActiveAsync(Guid appId, Guid meetingId, CancellationToken ct) =>
        await db.Recordings.AsNoTracking()
            .Where(r => r.AppId == appId && r.MeetingId == meetingId && r.Type == RecordingTypes.Composite && RecordingStatus.ActiveStates.Contains(r.Status))
            .OrderByDescending(r => r.InvokedTime).FirstOrDefaultAsync(ct)
        ?? throw CapstanException.NotFound($"No active recording found for meeting_id {meetingId}");

    public async Task<RecordingRow> ActAsync(Guid appId, Guid recordingId, RecordingActionRequest? body, CancellationToken ct)
    {
        var v = new Validation();
        v.Required(body?.Action, "action");
        v.OneOf(body?.Action, RecordingActions.All, "action");
        v.ThrowIfAny();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var r = await FindAsync(appId, recordingId, tracking: true, ct);
        switch (body!.Action)
        {
            case RecordingActions.Pause:
                await lifecycle.PauseAsync(r, ct);
                break;
            case RecordingActions.Resume:
                await lifecycle.ResumeAsync(r, ct);
                break;
            default:
                if (!RecordingStatus.IsActive(r.Status))
                {
                    throw CapstanException.Invalid($"cannot stop a recording whose status is {r.Status}");
                }
                await lifecycle.StopAsync(r, RecordingLifecycle.OrganizationCaller, ct);
                break;
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        signals.Notify();
        return r;
    }

    public async Task<(List<RecordingRow> Items, Dictionary<Guid, MeetingRow> Meetings, long Total)> ListAsync(Guid appId, RecordingListFilter f, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(f);
        var q = db.Recordings.AsNoTracking().Where(r => r.AppId == appId);
        if (f.MeetingId is { } mid)
        {
            q = q.Where(r => r.MeetingId == mid);
        }
        if (f.Statuses.Count > 0)
        {
            var statuses = f.Statuses.Distinct().ToList();
            q = q.Where(r => statuses.Contains(r.Status));
        }
        if (f.Start is { } start)
        {
            q = q.Where(r => r.InvokedTime >= start);
        }
        if (f.End is { } end)
        {
            q = q.Where(r => r.InvokedTime <= end);
        }
        if (f.Expired is { } expired)
        {
            var now = time.GetUtcNow().UtcDateTime;
            q = expired
                ? q.Where(r => r.DownloadUrlExpiry != null && r.DownloadUrlExpiry < now)
                : q.Where(r => r.DownloadUrlExpiry == null || r.DownloadUrlExpiry >= now);
        }
        if (!string.IsNullOrEmpty(f.Search))
        {
            var pattern = $"%{AccountService.EscapeLike(f.Search.ToLowerInvariant())}%";
            var searchId = Guid.TryParse(f.Search, out var id) ? id : Guid.Empty;
            q = q.Where(r => r.MeetingId == searchId
                || EF.Functions.Like(r.OutputFileName.ToLower(), pattern, "\\")
                || db.Meetings.Any(m => m.Id == r.MeetingId && EF.Functions.Like(m.Title!.ToLower(), pattern, "\\")));
        }
        var key = string.Join('|', appId, f.MeetingId, f.Expired, f.Search, f.Start?.Ticks, f.End?.Ticks, string.Join(',', f.Statuses.Order(StringComparer.Ordinal)));
        var total = await counts.GetAsync(key, () => q.LongCountAsync(ct));
        q = f.Ascending ? q.OrderBy(r => r.InvokedTime).ThenBy(r => r.Id) : q.OrderByDescending(r => r.InvokedTime).ThenByDescending(r => r.Id);
        // The list shows no config: leave the largest column out of the read.
        var items = await q.Skip(f.Page.Skip).Take(f.Page.PerPage).Select(r => new RecordingRow
        {
            Id = r.Id, AppId = r.AppId, MeetingId = r.MeetingId, SessionId = r.SessionId, Type = r.Type, Status = r.Status,
            AllowMultiple = r.AllowMultiple, OutputFileName = r.OutputFileName, AudioFileName = r.AudioFileName, ConfigJson = string.Empty,
            StorageConfigJson = r.StorageConfigJson, StartReasonJson = r.StartReasonJson, StopReasonJson = r.StopReasonJson,
            InvokedTime = r.InvokedTime, StartedTime = r.StartedTime, StoppedTime = r.StoppedTime, FileSize = r.FileSize,
            DurationSeconds = r.DurationSeconds, DownloadUrl = r.DownloadUrl, AudioDownloadUrl = r.AudioDownloadUrl,
            DownloadUrlExpiry = r.DownloadUrlExpiry, TrackDownloadsJson = r.TrackDownloadsJson, UpdatedAt = r.UpdatedAt,
            Sha256 = r.Sha256, AudioSha256 = r.AudioSha256, ErrorMessage = r.ErrorMessage,
        }).ToListAsync(ct);
        var meetingIds = items.Select(r => r.MeetingId).Distinct().ToList();
        var meetings = meetingIds.Count == 0
            ? []
            : await db.Meetings.AsNoTracking().Where(m => meetingIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, ct);
        return (items, meetings, total);
    }

    /// <summary>The insert with the "one active recording per meeting" guard: a conditional update of the
    /// meeting row (a database-side compare-and-set) in the same transaction as the recording and its job.</summary>
    private async Task<RecordingRow> InsertAsync(MeetingRow meeting, string type, EffectiveRecordingConfig config, ReasonDto startReason, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var id = Guid.NewGuid();
        var (output, audio) = FileNames(meeting, config, type, now);
        if (type == RecordingTypes.Composite)
        {
            config.Compositor = EffectiveRecordingConfig.ChooseCompositor(config, recorder.Value.Compositor);
        }
        var row = new RecordingRow
        {
            Id = id,
            AppId = meeting.AppId,
            MeetingId = meeting.Id,
            Type = type,
            Status = RecordingStatus.Invoked,
            AllowMultiple = config.AllowMultiple,
            OutputFileName = output,
            AudioFileName = audio,
            ConfigJson = Mapping.Write(config),
            StorageConfigJson = config.Storage is { } s ? Mapping.Write(s.Public) : null,
            StartReasonJson = Mapping.Write(startReason),
            InvokedTime = now,
            UpdatedAt = now,
        };
        try
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            if (type == RecordingTypes.Composite)
            {
                var exclusive = !config.AllowMultiple;
                var claimed = exclusive
                    ? await db.Meetings.Where(m => m.Id == meeting.Id && m.ActiveRecordings == 0)
                        .ExecuteUpdateAsync(u => u.SetProperty(m => m.ActiveRecordings, 1).SetProperty(m => m.ExclusiveRecordingActive, true), ct)
                    : await db.Meetings.Where(m => m.Id == meeting.Id && !m.ExclusiveRecordingActive)
                        .ExecuteUpdateAsync(u => u.SetProperty(m => m.ActiveRecordings, m => m.ActiveRecordings + 1), ct);
                if (claimed == 0)
                {
                    throw ActiveConflict(meeting.Id);
                }
            }
            row.SessionId = await db.Sessions.Where(x => x.MeetingId == meeting.Id && x.Status == SessionService.Live).Select(x => (Guid?)x.Id).FirstOrDefaultAsync(ct);
            db.Recordings.Add(row);
            // The API call's span names the recording, so its trace joins the worker's recording.session trace.
            System.Diagnostics.Activity.Current?.SetTag("capstan.recording_id", id.ToString("D"));
            db.RecorderJobs.Add(new RecorderJobRow
            {
                Id = Guid.NewGuid(), RecordingId = id, State = JobStates.Queued, DesiredState = JobStates.DesiredRecord, CreatedAt = now, UpdatedAt = now,
            });
            var session = row.SessionId is { } sid ? await db.Sessions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == sid, ct) : null;
            WebhookEvents.Enqueue(db, meeting.AppId, WebhookEvents.RecordingStatusUpdate, WebhookEvents.RecordingPayload(row, meeting, session), now);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            counts.Invalidate();
            signals.Notify();
            return row;
        }
        catch (DbUpdateException e) when (IsUniqueViolation(e))
        {
            throw type == RecordingTypes.Track ? TrackConflict(meeting.Id) : ActiveConflict(meeting.Id);
        }
    }

    /// <summary>Capstan's choice (RealtimeKit is silent): one active track recording per meeting, since Janus records
    /// a room into one folder at a time. A composite recording can run beside it.</summary>
    private static CapstanException TrackConflict(Guid meetingId) =>
        CapstanException.Conflict($"meeting {meetingId} already has an active track recording; stop it first");

    private static CapstanException ActiveConflict(Guid meetingId) =>
        CapstanException.Conflict($"meeting {meetingId} already has an active recording; stop it first, or start both with allow_multiple_recordings: true");

    private static bool IsUniqueViolation(DbUpdateException e) =>
        e.InnerException?.Message.Contains("UNIQUE", StringComparison.OrdinalIgnoreCase) == true
        || e.InnerException?.Message.Contains("23505", StringComparison.Ordinal) == true
        || e.InnerException?.Message.Contains("duplicate key", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>decisions.md naming: <c>{prefix_}{meeting title or id, sanitised}_{epoch ms}.{ext}</c>. Track
    /// recordings name the pattern their files follow.</summary>
    internal static (string Output, string? Audio) FileNames(MeetingRow meeting, EffectiveRecordingConfig config, string type, DateTime now)
    {
        var epoch = new DateTimeOffset(now).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        if (type == RecordingTypes.Track)
        {
            var prefix = config.Track?.Layers.FirstOrDefault()?.FileNamePrefix ?? "default";
            return ($"{prefix}_{{user_id}}_{{peer_id}}_{{stream_kind}}_{{media_kind}}_{epoch}.webm", null);
        }
        var stem = (config.FileNamePrefix is { } p ? p + "_" : string.Empty) + Sanitize(meeting.Title, meeting.Id) + "_" + epoch;
        var audio = config.AudioExport ? $"{stem}.{config.AudioExtension}" : null;
        return (config.VideoExport ? $"{stem}.{config.OutputExtension}" : audio!, audio);
    }

    /// <summary>Letters and digits of any script, '_' and '-'; spaces and separators become one '-'; the rest
    /// is dropped; at most 100 characters; the meeting id when nothing is left.</summary>
    internal static string Sanitize(string? title, Guid meetingId)
    {
        if (string.IsNullOrWhiteSpace(title))
        {
            return Ids.Format(meetingId);
        }
        var sb = new StringBuilder();
        foreach (var c in title)
        {
            if (char.IsLetterOrDigit(c) || c is '_' or '-')
            {
                sb.Append(c);
            }
            else if (char.IsWhiteSpace(c) || c is '.' or '/' or '\\' or ':')
            {
                if (sb.Length > 0 && sb[^1] != '-')
                {
                    sb.Append('-');
                }
            }
        }
        var s = sb.ToString().Trim('-');
        if (s.Length > 100)
        {
            s = s[..100].TrimEnd('-');
        }
        return s.Length == 0 ? Ids.Format(meetingId) : s;
    }
}

/// <summary>The two generations of the track-recording body, turned into one <see cref="TrackRecordingConfig"/>.</summary>
public static class TrackConfigs
{
    public static readonly IReadOnlyList<string> MediaKinds = ["audio", "video"];
    public static readonly IReadOnlyList<string> OutputTypes = ["REALTIMEKIT_BUCKET", "STORAGE_CONFIG", "DYTE_BUCKET"];

    /// <summary>Current shape: <c>layers.{name}.{media_kind, file_name_prefix}</c> and <c>user_ids</c>. Legacy shape:
    /// <c>layers.{name}.{file_name_prefix, outputs[]}</c> and <c>max_seconds</c> (a number or numeric string).
    /// <c>media_kind: "video"</c> is a Capstan extension (RealtimeKit records audio only).</summary>
    public static TrackRecordingConfig Build(TrackRecordingRequest body, Validation v, IReadOnlySet<string> aliases, SecretProtector protector, out int maxSeconds)
    {
        ArgumentNullException.ThrowIfNull(body);
        var config = new TrackRecordingConfig();
        maxSeconds = RecordingConfigs.DefaultMaxSeconds;
        if (body.MaxSeconds is { } ms)
        {
            int? parsed = ms.ValueKind switch
            {
                JsonValueKind.Number when ms.TryGetInt32(out var n) => n,
                JsonValueKind.String when int.TryParse(ms.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
                JsonValueKind.Null => null,
                _ => throw CapstanException.Invalid("max_seconds must be an integer (or a numeric string)"),
            };
            v.Range(parsed, RecordingConfigs.MinMaxSeconds, RecordingConfigs.DefaultMaxSeconds, "max_seconds");
            maxSeconds = parsed ?? maxSeconds;
        }
        if (body.UserIds is { } users)
        {
            if (users.Count > 100)
            {
                v.Add($"user_ids must have at most 100 entries, got {users.Count}");
            }
            foreach (var (u, i) in users.Select((u, i) => (u, i)))
            {
                if (string.IsNullOrWhiteSpace(u) || u.Length > 256)
                {
                    v.Add($"user_ids[{i}] must be a non-empty string of at most 256 characters");
                }
            }
            config.UserIds = users.Where(u => !string.IsNullOrWhiteSpace(u)).Distinct().ToList();
        }
        var layers = body.Layers ?? new Dictionary<string, TrackLayer> { ["default"] = new TrackLayer() };
        if (layers.Count == 0)
        {
            layers = new Dictionary<string, TrackLayer> { ["default"] = new TrackLayer() };
        }
        if (layers.Count > 10)
        {
            v.Add("layers must have at most 10 entries");
        }
        foreach (var (name, layer) in layers)
        {
            var field = $"layers.{name}";
            if (name.Length is 0 or > 64)
            {
                v.Add("layer names must be 1..64 characters");
            }
            var l = layer ?? new TrackLayer();
            v.OneOf(l.MediaKind, MediaKinds, $"{field}.media_kind");
            v.FileNamePrefix(l.FileNamePrefix, $"{field}.file_name_prefix");
            var entry = new TrackLayerConfig { Name = name, MediaKind = l.MediaKind ?? "audio", FileNamePrefix = l.FileNamePrefix ?? "default" };
            if (l.Outputs is { } outputs)
            {
                config.LegacyShape = true;
                entry.DefaultBucket = false;
                foreach (var (o, i) in outputs.Select((o, i) => (o, i)))
                {
                    var of = $"{field}.outputs[{i}]";
                    v.Required(o?.Type, $"{of}.type");
                    v.OneOf(o?.Type, OutputTypes, $"{of}.type");
                    if (o?.Type == "STORAGE_CONFIG")
                    {
                        if (o.StorageConfig is null)
                        {
                            v.Add($"{of}.storage_config is required when type is STORAGE_CONFIG");
                        }
                        var before = v.HasErrors;
                        StorageConfigs.Validate(o.StorageConfig, $"{of}.storage_config", v, aliases);
                        if (!before && !v.HasErrors && o.StorageConfig is { } sc)
                        {
                            entry.Storage = StorageConfigs.Protect(sc, protector);
                        }
                    }
                    else if (o?.Type is "REALTIMEKIT_BUCKET" or "DYTE_BUCKET")
                    {
                        entry.DefaultBucket = true;
                    }
                }
                if (outputs.Count == 0)
                {
                    entry.DefaultBucket = true;
                }
            }
            config.Layers.Add(entry);
        }
        return config;
    }
}
