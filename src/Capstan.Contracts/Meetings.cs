using System.Text.Json.Serialization;

namespace Capstan.Contracts;

/// <summary>Body of create (POST), replace (PUT) and update (PATCH; adds <see cref="Status"/>) of a meeting.</summary>
public sealed class MeetingRequest
{
    public string? Title { get; set; }
    public bool? RecordOnStart { get; set; }
    public bool? LiveStreamOnStart { get; set; }
    public bool? PersistChat { get; set; }
    public RecordingConfig? RecordingConfig { get; set; }
    public int? SessionKeepAliveTimeInSecs { get; set; }
    public bool? SummarizeOnEnd { get; set; }
    public bool? TranscribeOnEnd { get; set; }
    public AiConfig? AiConfig { get; set; }
    public string? Status { get; set; }
}

public sealed class AiConfig
{
    public SummarizationConfig? Summarization { get; set; }
    public TranscriptionConfig? Transcription { get; set; }
}

public sealed class SummarizationConfig
{
    public string? SummaryType { get; set; }
    public string? TextFormat { get; set; }
    public int? WordLimit { get; set; }
}

public sealed class TranscriptionConfig
{
    public IList<string>? Keywords { get; set; }
    public string? Language { get; set; }
    public bool? ProfanityFilter { get; set; }
}

public sealed class MeetingDto
{
    public required string Id { get; init; }
    public string? Title { get; init; }
    public required string Status { get; init; }
    public bool RecordOnStart { get; init; }
    public bool LiveStreamOnStart { get; init; }
    public bool PersistChat { get; init; }
    public bool SummarizeOnEnd { get; init; }
    public bool TranscribeOnEnd { get; init; }
    public int SessionKeepAliveTimeInSecs { get; init; }
    public RecordingConfig? RecordingConfig { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AiConfig? AiConfig { get; init; }

    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}
