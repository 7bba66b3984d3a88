using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

/// <summary>Meetings and their participants.</summary>
public sealed class MeetingService(CapstanDbContext db, TimeProvider time, SecretProtector protector, ParticipantTokens tokens, StorageAliases storageAliases, OutboundTargets outbound)
{
    public const string Active = "ACTIVE";
    public const string Inactive = "INACTIVE";
    public static readonly IReadOnlyList<string> Statuses = [Active, Inactive];
    public const int DefaultKeepAlive = 60;
    private static readonly string[] SummaryTypes = ["general", "team_meeting", "sales_call", "client_check_in", "interview", "daily_standup", "one_on_one_meeting", "lecture", "code_review"];
    private static readonly string[] TextFormats = ["plain_text", "markdown"];
    private static readonly string[] Languages = ["en-US", "en-IN", "de", "hi", "sv", "ru", "pl", "el", "fr", "nl"];

    public async Task<MeetingRow> CreateAsync(Guid appId, MeetingRequest? body, CancellationToken ct)
    {
        body ??= new MeetingRequest();
        await ValidateAsync(body, allowStatus: false, ct);
        var now = Now;
        var m = new MeetingRow { Id = Guid.NewGuid(), AppId = appId, Status = Active, CreatedAt = now, UpdatedAt = now, SessionKeepAliveTimeInSecs = DefaultKeepAlive };
        Apply(m, body, replace: true);
        db.Meetings.Add(m);
        await db.SaveChangesAsync(ct);
        return m;
    }

    /// <summary>PATCH changes the fields present; PUT replaces every field (absent ones back to defaults).</summary>
    public async Task<MeetingRow> UpdateAsync(Guid appId, Guid meetingId, MeetingRequest? body, bool replace, CancellationToken ct)
    {
        body ??= new MeetingRequest();
        await ValidateAsync(body, allowStatus: !replace, ct);
        var m = await FindAsync(appId, meetingId, tracking: true, ct);
        Apply(m, body, replace);
        if (!replace && body.Status is { } status)
        {
            m.Status = status;
        }
        m.UpdatedAt = Now;
        await db.SaveChangesAsync(ct);
        return m;
    }

    public async Task<MeetingRow> FindAsync(Guid appId, Guid meetingId, bool tracking, CancellationToken ct)
    {
        var q = tracking ? db.Meetings : db.Meetings.AsNoTracking();
        return await q.FirstOrDefaultAsync(m => m.Id == meetingId && m.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No meeting found with id {meetingId}");
    }

    public async Task<(List<MeetingRow> Items, long Total)> ListAsync(Guid appId, string? search, DateTime? start, DateTime? end, string? status, PageRequest page, CancellationToken ct)
    {
        var q = db.Meetings.AsNoTracking().Where(m => m.AppId == appId);
        if (!string.IsNullOrEmpty(search))
        {
            var pattern = $"%{AccountService.EscapeLike(search.ToLowerInvariant())}%";
            q = Guid.TryParse(search, out var id)
                ? q.Where(m => m.Id == id || EF.Functions.Like(m.Title!.ToLower(), pattern, "\\"))
                : q.Where(m => EF.Functions.Like(m.Title!.ToLower(), pattern, "\\"));
        }
        if (start is { } s)
        {
            q = q.Where(m => m.CreatedAt >= s);
        }
        if (end is { } e)
        {
            q = q.Where(m => m.CreatedAt <= e);
        }
        if (status is not null)
        {
            q = q.Where(m => m.Status == status);
        }
        var total = await q.LongCountAsync(ct);
        var items = await q.OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id).Skip(page.Skip).Take(page.PerPage).ToListAsync(ct);
        return (items, total);
    }

    public async Task<(ParticipantRow Participant, string Token)> AddParticipantAsync(Guid appId, Guid meetingId, AddParticipantRequest? body, CancellationToken ct)
    {
        var v = new Validation();
        if (body is null)
        {
            throw CapstanException.Invalid("request body is required: custom_participant_id and preset_name");
        }
        v.Required(body.CustomParticipantId, "custom_participant_id");
        v.MaxLength(body.CustomParticipantId, 256, "custom_participant_id");
        v.Required(body.PresetName, "preset_name");
        ValidatePreset(body.PresetName, v);
        v.MaxLength(body.Name, 256, "name");
        v.Url(body.Picture, "picture", "http", "https");
        v.ThrowIfAny();
        await FindAsync(appId, meetingId, tracking: false, ct);
        var now = Now;
        var p = new ParticipantRow
        {
            Id = Guid.NewGuid(),
            AppId = appId,
            MeetingId = meetingId,
            CustomParticipantId = body.CustomParticipantId!,
            PresetName = body.PresetName!,
            Name = body.Name,
            Picture = body.Picture,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Participants.Add(p);
        await db.SaveChangesAsync(ct);
        var token = await tokens.IssueAsync(appId, meetingId, p.Id, p.PresetName, ct);
        return (p, token);
    }

    public async Task<(List<ParticipantRow> Items, long Total)> ListParticipantsAsync(Guid appId, Guid meetingId, PageRequest page, CancellationToken ct)
    {
        await FindAsync(appId, meetingId, tracking: false, ct);
        var q = db.Participants.AsNoTracking().Where(p => p.MeetingId == meetingId && p.AppId == appId);
        var total = await q.LongCountAsync(ct);
        var items = await q.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).Skip(page.Skip).Take(page.PerPage).ToListAsync(ct);
        return (items, total);
    }

    /// <summary>The participant of the meeting added with <paramref name="customParticipantId"/>, if any (the oldest
    /// one when several were).</summary>
    public async Task<ParticipantRow?> FindParticipantByCustomIdAsync(Guid appId, Guid meetingId, string customParticipantId, CancellationToken ct) =>
        await db.Participants.AsNoTracking().Where(p => p.MeetingId == meetingId && p.AppId == appId && p.CustomParticipantId == customParticipantId)
            .OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).FirstOrDefaultAsync(ct);

    public async Task<ParticipantRow> FindParticipantAsync(Guid appId, Guid meetingId, Guid participantId, bool tracking, CancellationToken ct)
    {
        var q = tracking ? db.Participants : db.Participants.AsNoTracking();
        return await q.FirstOrDefaultAsync(p => p.Id == participantId && p.MeetingId == meetingId && p.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No user found with id {participantId}");
    }

    public async Task<(ParticipantRow Participant, string Token)> EditParticipantAsync(Guid appId, Guid meetingId, Guid participantId, EditParticipantRequest? body, CancellationToken ct)
    {
        body ??= new EditParticipantRequest();
        var v = new Validation();
        v.MaxLength(body.Name, 256, "name");
        v.Url(body.Picture, "picture", "http", "https");
        ValidatePreset(body.PresetName, v);
        v.ThrowIfAny();
        var p = await FindParticipantAsync(appId, meetingId, participantId, tracking: true, ct);
        p.Name = body.Name ?? p.Name;
        p.Picture = body.Picture ?? p.Picture;
        p.PresetName = body.PresetName ?? p.PresetName;
        p.UpdatedAt = Now;
        await db.SaveChangesAsync(ct);
        return (p, await tokens.IssueAsync(appId, meetingId, p.Id, p.PresetName, ct));
    }

    public async Task<ParticipantRow> DeleteParticipantAsync(Guid appId, Guid meetingId, Guid participantId, CancellationToken ct)
    {
        var p = await FindParticipantAsync(appId, meetingId, participantId, tracking: true, ct);
        db.Participants.Remove(p);
        await db.SaveChangesAsync(ct);
        return p;
    }

    public async Task<string> RefreshTokenAsync(Guid appId, Guid meetingId, Guid participantId, CancellationToken ct)
    {
        var p = await FindParticipantAsync(appId, meetingId, participantId, tracking: false, ct);
        return await tokens.IssueAsync(appId, meetingId, p.Id, p.PresetName, ct);
    }

    private static void ValidatePreset(string? name, Validation v)
    {
        if (name is not null && !Presets.Exists(name))
        {
            v.Add($"preset_name must be one of {string.Join(", ", Presets.Names.Select(n => $"'{n}'"))}, got '{Ids.Trim(name)}'");
        }
    }

    private async Task ValidateAsync(MeetingRequest body, bool allowStatus, CancellationToken ct)
    {
        var v = new Validation();
        v.MaxLength(body.Title, 1024, "title");
        v.Range(body.SessionKeepAliveTimeInSecs, 60, 600, "session_keep_alive_time_in_secs");
        if (allowStatus)
        {
            v.OneOf(body.Status, Statuses, "status");
        }
        RecordingConfigs.ValidateMeetingConfig(body.RecordingConfig, "recording_config", v, storageAliases.Types);
        if (body.AiConfig is { } ai)
        {
            v.OneOf(ai.Summarization?.SummaryType, SummaryTypes, "ai_config.summarization.summary_type");
            v.OneOf(ai.Summarization?.TextFormat, TextFormats, "ai_config.summarization.text_format");
            v.Range(ai.Summarization?.WordLimit, 1, 10000, "ai_config.summarization.word_limit");
            v.OneOf(ai.Transcription?.Language, Languages, "ai_config.transcription.language");
            if (ai.Transcription?.Keywords is { Count: > 100 })
            {
                v.Add("ai_config.transcription.keywords must have at most 100 entries");
            }
        }
        v.ThrowIfAny();
        if (body.RecordingConfig is { } rc)
        {
            await outbound.UrlAsync(rc.VideoConfig?.Watermark?.Url, "recording_config.video_config.watermark.url", v, ct);
            await outbound.UrlAsync(rc.LiveStreamingConfig?.RtmpUrl, "recording_config.live_streaming_config.rtmp_url", v, ct);
            await outbound.StorageAsync(rc.StorageConfig, "recording_config.storage_config", v, ct);
            v.ThrowIfAny();
        }
    }

    private void Apply(MeetingRow m, MeetingRequest body, bool replace)
    {
        if (replace)
        {
            m.Title = body.Title;
            m.RecordOnStart = body.RecordOnStart ?? false;
            m.LiveStreamOnStart = body.LiveStreamOnStart ?? false;
            m.PersistChat = body.PersistChat ?? false;
            m.SummarizeOnEnd = body.SummarizeOnEnd ?? false;
            m.TranscribeOnEnd = body.TranscribeOnEnd ?? false;
            m.SessionKeepAliveTimeInSecs = body.SessionKeepAliveTimeInSecs ?? DefaultKeepAlive;
            m.RecordingConfigJson = body.RecordingConfig is { } rc ? Mapping.Write(RecordingConfigs.Store(rc, protector)) : null;
            m.AiConfigJson = body.AiConfig is { } ai ? Mapping.Write(ai) : null;
            return;
        }
        m.Title = body.Title ?? m.Title;
        m.RecordOnStart = body.RecordOnStart ?? m.RecordOnStart;
        m.LiveStreamOnStart = body.LiveStreamOnStart ?? m.LiveStreamOnStart;
        m.PersistChat = body.PersistChat ?? m.PersistChat;
        m.SummarizeOnEnd = body.SummarizeOnEnd ?? m.SummarizeOnEnd;
        m.TranscribeOnEnd = body.TranscribeOnEnd ?? m.TranscribeOnEnd;
        m.SessionKeepAliveTimeInSecs = body.SessionKeepAliveTimeInSecs ?? m.SessionKeepAliveTimeInSecs;
        if (body.RecordingConfig is { } config)
        {
            m.RecordingConfigJson = Mapping.Write(RecordingConfigs.Store(config, protector));
        }
        if (body.AiConfig is { } aiConfig)
        {
            m.AiConfigJson = Mapping.Write(aiConfig);
        }
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}

/// <summary>Storage types accepted as aliases of an S3-compatible endpoint: those the operator configured
/// under <c>Storage:Endpoints:{type}</c> beyond the five of the contract (for example <c>cloudflare</c>).</summary>
public sealed class StorageAliases(IConfiguration configuration)
{
    public IReadOnlySet<string> Types { get; } = configuration.GetSection("Storage:Endpoints").GetChildren()
        .Where(c => !string.IsNullOrWhiteSpace(c.Value) && !StorageConfigs.Types.Contains(c.Key))
        .Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
}
