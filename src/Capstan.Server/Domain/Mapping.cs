using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Data;

namespace Capstan.Server.Domain;

/// <summary>Rows to wire DTOs.</summary>
public static class Mapping
{
    public static AppDto ToDto(this AppRow a) => new(Ids.Format(a.Id), a.Name, a.CreatedAt);

    public static MeetingDto ToDto(this MeetingRow m, bool withAiConfig = true) => new()
    {
        Id = Ids.Format(m.Id),
        Title = m.Title,
        Status = m.Status,
        RecordOnStart = m.RecordOnStart,
        LiveStreamOnStart = m.LiveStreamOnStart,
        PersistChat = m.PersistChat,
        SummarizeOnEnd = m.SummarizeOnEnd,
        TranscribeOnEnd = m.TranscribeOnEnd,
        SessionKeepAliveTimeInSecs = m.SessionKeepAliveTimeInSecs,
        RecordingConfig = ReadStoredConfig(m.RecordingConfigJson)?.Config,
        AiConfig = withAiConfig ? (m.AiConfigJson is null ? new AiConfig() : Read<AiConfig>(m.AiConfigJson)) : null,
        CreatedAt = m.CreatedAt,
        UpdatedAt = m.UpdatedAt,
    };

    public static ParticipantDto ToDto(this ParticipantRow p, string? token = null) => new()
    {
        Id = Ids.Format(p.Id),
        Token = token,
        CustomParticipantId = p.CustomParticipantId,
        PresetName = p.PresetName,
        Name = p.Name,
        Picture = p.Picture,
        CreatedAt = p.CreatedAt,
        UpdatedAt = p.UpdatedAt,
    };

    public static WebhookDto ToDto(this WebhookRow w) =>
        new(Ids.Format(w.Id), w.Name, w.Url, w.Events.Split(',', StringSplitOptions.RemoveEmptyEntries), w.Enabled, w.CreatedAt, w.UpdatedAt);

    public static RecordingDto ToDto(this RecordingRow r, MeetingRow? meeting = null, bool details = true, int? queuePosition = null) => new()
    {
        Id = Ids.Format(r.Id),
        AudioDownloadUrl = r.AudioDownloadUrl,
        DownloadUrl = r.Type == RecordingTypes.Track && r.TrackDownloadsJson is not null
            ? JsonSerializer.Deserialize<JsonElement>(r.TrackDownloadsJson)
            : r.DownloadUrl,
        DownloadUrlExpiry = r.DownloadUrlExpiry,
        FileSize = r.FileSize,
        InvokedTime = r.InvokedTime,
        OutputFileName = r.OutputFileName,
        SessionId = r.SessionId is { } s ? Ids.Format(s) : null,
        StartedTime = r.StartedTime,
        Status = r.Status,
        StoppedTime = r.StoppedTime,
        RecordingDuration = r.DurationSeconds,
        MeetingId = Ids.Format(r.MeetingId),
        Type = r.Type == RecordingTypes.Track ? RecordingTypes.Track : null,
        StartReason = details && r.StartReasonJson is not null ? Read<ReasonDto>(r.StartReasonJson) : null,
        StopReason = details && r.StopReasonJson is not null ? Read<ReasonDto>(r.StopReasonJson) : null,
        StorageConfig = r.StorageConfigJson is not null ? Read<StorageConfig>(r.StorageConfigJson) : null,
        Meeting = meeting?.ToDto(withAiConfig: false),
        Sha256 = r.Sha256,
        AudioSha256 = r.AudioSha256,
        ErrorMessage = r.Status == RecordingStatus.Errored ? r.ErrorMessage : null,
        Gaps = r.GapsJson is not null ? Read<List<RecordingGap>>(r.GapsJson) : [],
        // Kept in the recording's config, which lists do not read (as with the reasons): single recordings only.
        Compositor = details && r.Type == RecordingTypes.Composite && r.ConfigJson.Length > 0 ? Read<EffectiveRecordingConfig>(r.ConfigJson)?.Compositor : null,
        QueuePosition = queuePosition,
    };

    public static SessionDto ToDto(this SessionRow s, int liveParticipants, double minutesConsumed, Guid? activeSpeaker = null) => new()
    {
        Id = Ids.Format(s.Id),
        AssociatedId = Ids.Format(s.MeetingId),
        MeetingDisplayName = s.MeetingTitle,
        OrganizationId = Ids.Format(s.AppId),
        Status = s.Status,
        CreatedAt = s.CreatedAt,
        UpdatedAt = s.UpdatedAt,
        StartedAt = s.StartedAt,
        EndedAt = s.EndedAt,
        LiveParticipants = liveParticipants,
        MaxConcurrentParticipants = s.MaxConcurrentParticipants,
        MinutesConsumed = Math.Round(minutesConsumed, 2),
        ActiveSpeaker = activeSpeaker is { } peer ? Ids.Format(peer) : null,
    };

    public static SessionParticipantDto ToDto(this SessionPeerRow p, DateTime now, IReadOnlyList<PeerEventDto>? events = null) => new()
    {
        Id = Ids.Format(p.Id),
        UserId = p.ParticipantId is { } u ? Ids.Format(u) : null,
        CustomParticipantId = p.CustomParticipantId,
        DisplayName = p.DisplayName,
        PresetName = p.PresetName,
        JoinedAt = p.JoinedAt,
        LeftAt = p.LeftAt,
        Duration = Math.Round(((p.LeftAt ?? now) - p.JoinedAt).TotalMinutes, 2),
        CreatedAt = p.JoinedAt,
        UpdatedAt = p.LeftAt ?? p.JoinedAt,
        PeerEvents = events,
        ScreenShares = p.ScreenSharesJson is null ? null : SessionService.SharesOf(p).Select(x => new ScreenShareDto(x.StartedAt, x.EndedAt)).ToList(),
    };

    public static StoredRecordingConfig? ReadStoredConfig(string? json) =>
        json is null ? null : JsonSerializer.Deserialize<StoredRecordingConfig>(json, CapstanJson.Options);

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, CapstanJson.Options);

    public static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, CapstanJson.Options)
        ?? throw new InvalidOperationException($"stored {typeof(T).Name} is null");
}
