namespace Capstan.Client.Models;

/// <summary>A meeting.</summary>
public sealed class Meeting : ApiObject
{
    /// <summary>Meeting id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>Title.</summary>
    public string? Title { get; init; }

    /// <summary><c>ACTIVE</c> or <c>INACTIVE</c> (see <see cref="MeetingStatus"/>).</summary>
    public string? Status { get; init; }

    /// <summary>Start recording when the first participant joins.</summary>
    public bool RecordOnStart { get; init; }

    /// <summary>Start livestreaming when the first participant joins.</summary>
    public bool LiveStreamOnStart { get; init; }

    /// <summary>Keep the chat.</summary>
    public bool PersistChat { get; init; }

    /// <summary>Summarize when the meeting ends.</summary>
    public bool SummarizeOnEnd { get; init; }

    /// <summary>Transcribe when the meeting ends.</summary>
    public bool TranscribeOnEnd { get; init; }

    /// <summary>Seconds the session stays alive after the last participant left.</summary>
    public int SessionKeepAliveTimeInSecs { get; init; }

    /// <summary>The meeting's recording configuration.</summary>
    public RecordingConfig? RecordingConfig { get; init; }

    /// <summary>AI settings (not in list items).</summary>
    public AiConfig? AiConfig { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Values of <see cref="Meeting.Status"/>.</summary>
public static class MeetingStatus
{
    /// <summary>Can be joined and recorded.</summary>
    public const string Active = "ACTIVE";

    /// <summary>Cannot be joined or recorded.</summary>
    public const string Inactive = "INACTIVE";
}

/// <summary>AI settings of a meeting.</summary>
public sealed class AiConfig
{
    /// <summary>Summary settings.</summary>
    public SummarizationConfig? Summarization { get; set; }

    /// <summary>Transcription settings.</summary>
    public TranscriptionConfig? Transcription { get; set; }
}

/// <summary>Summary settings.</summary>
public sealed class SummarizationConfig
{
    /// <summary>e.g. <c>general</c>, <c>team_meeting</c>.</summary>
    public string? SummaryType { get; set; }

    /// <summary><c>plain_text</c> or <c>markdown</c>.</summary>
    public string? TextFormat { get; set; }

    /// <summary>Maximum words.</summary>
    public int? WordLimit { get; set; }
}

/// <summary>Transcription settings.</summary>
public sealed class TranscriptionConfig
{
    /// <summary>Words to favour.</summary>
    public IList<string>? Keywords { get; set; }

    /// <summary>e.g. <c>en-US</c>.</summary>
    public string? Language { get; set; }

    /// <summary>Mask profanity.</summary>
    public bool? ProfanityFilter { get; set; }
}

/// <summary>Fields of a meeting in create and replace requests; unset fields are not sent.</summary>
public class MeetingOptions
{
    /// <summary>Title.</summary>
    public string? Title { get; set; }

    /// <summary>Start recording when the first participant joins.</summary>
    public bool? RecordOnStart { get; set; }

    /// <summary>Start livestreaming when the first participant joins.</summary>
    public bool? LiveStreamOnStart { get; set; }

    /// <summary>Keep the chat.</summary>
    public bool? PersistChat { get; set; }

    /// <summary>Recording configuration (overrides the app's).</summary>
    public RecordingConfig? RecordingConfig { get; set; }

    /// <summary>Seconds the session stays alive after the last participant left (60..600).</summary>
    public int? SessionKeepAliveTimeInSecs { get; set; }

    /// <summary>Summarize when the meeting ends.</summary>
    public bool? SummarizeOnEnd { get; set; }

    /// <summary>Transcribe when the meeting ends.</summary>
    public bool? TranscribeOnEnd { get; set; }

    /// <summary>AI settings.</summary>
    public AiConfig? AiConfig { get; set; }
}

/// <summary>Options of <c>Meetings.CreateAsync</c>.</summary>
public sealed class CreateMeetingOptions : MeetingOptions;

/// <summary>Options of <c>Meetings.ReplaceMeetingByIdAsync</c>.</summary>
public sealed class ReplaceMeetingOptions : MeetingOptions;

/// <summary>Options of <c>Meetings.UpdateMeetingByIdAsync</c>: the fields to change.</summary>
public sealed class UpdateMeetingOptions : MeetingOptions
{
    /// <summary><c>ACTIVE</c> or <c>INACTIVE</c>.</summary>
    public string? Status { get; set; }
}

/// <summary>Options of <c>Meetings.GetAsync</c>.</summary>
public sealed class MeetingListOptions : ListOptions
{
    /// <summary>Match on meeting id or title.</summary>
    public string? Search { get; set; }

    /// <summary>Created at or after.</summary>
    public DateTimeOffset? StartTime { get; set; }

    /// <summary>Created at or before.</summary>
    public DateTimeOffset? EndTime { get; set; }

    /// <summary><c>ACTIVE</c> or <c>INACTIVE</c>.</summary>
    public string? Status { get; set; }

    internal override Query AddFilters(Query query) =>
        query.Add("search", Search).Add("start_time", StartTime).Add("end_time", EndTime).Add("status", Status);
}
