namespace Capstan.Client.Models;

/// <summary>A webhook subscription.</summary>
public sealed class Webhook : ApiObject
{
    /// <summary>Webhook id (UUID; the <c>rtk-webhook-id</c> header of its deliveries).</summary>
    public required string Id { get; init; }

    /// <summary>Name.</summary>
    public string? Name { get; init; }

    /// <summary>Target URL.</summary>
    public string? Url { get; init; }

    /// <summary>Subscribed events (see <see cref="WebhookEvents"/>).</summary>
    public IReadOnlyList<string> Events { get; init; } = [];

    /// <summary>Whether deliveries are made.</summary>
    public bool Enabled { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>The event names a webhook can subscribe to.</summary>
public static class WebhookEvents
{
    /// <summary>First participant joined.</summary>
    public const string MeetingStarted = "meeting.started";

    /// <summary>The meeting ended.</summary>
    public const string MeetingEnded = "meeting.ended";

    /// <summary>A participant joined.</summary>
    public const string ParticipantJoined = "meeting.participantJoined";

    /// <summary>A participant left.</summary>
    public const string ParticipantLeft = "meeting.participantLeft";

    /// <summary>Chat export available.</summary>
    public const string ChatSynced = "meeting.chatSynced";

    /// <summary>A recording changed status.</summary>
    public const string RecordingStatusUpdate = "recording.statusUpdate";

    /// <summary>Livestream status.</summary>
    public const string LivestreamingStatusUpdate = "livestreaming.statusUpdate";

    /// <summary>Transcript available.</summary>
    public const string Transcript = "meeting.transcript";

    /// <summary>Summary available.</summary>
    public const string Summary = "meeting.summary";
}

/// <summary>Options of <c>Webhooks.CreateWebhookAsync</c> and <c>ReplaceWebhookAsync</c>.</summary>
public sealed class CreateWebhookOptions
{
    /// <summary>Name (required).</summary>
    public required string Name { get; set; }

    /// <summary>Target URL (required).</summary>
    public required string Url { get; set; }

    /// <summary>Events (required).</summary>
    public required IList<string> Events { get; set; }

    /// <summary>Enabled (default true).</summary>
    public bool? Enabled { get; set; }
}

/// <summary>Options of <c>Webhooks.EditWebhookAsync</c>: the fields to change.</summary>
public sealed class EditWebhookOptions
{
    /// <summary>Name.</summary>
    public string? Name { get; set; }

    /// <summary>Target URL.</summary>
    public string? Url { get; set; }

    /// <summary>Events.</summary>
    public IList<string>? Events { get; set; }

    /// <summary>Enabled.</summary>
    public bool? Enabled { get; set; }
}

/// <summary>Capstan extension: one event's delivery to a webhook, with every attempt.</summary>
public sealed class WebhookDelivery : ApiObject
{
    /// <summary>Delivery id (the <c>rtk-uuid</c> header).</summary>
    public required string Id { get; init; }

    /// <summary>Event name.</summary>
    public string? Event { get; init; }

    /// <summary><c>PENDING</c>, <c>DELIVERED</c> or <c>FAILED</c>.</summary>
    public string? Status { get; init; }

    /// <summary>Attempts so far.</summary>
    public int Attempts { get; init; }

    /// <summary>HTTP status of the last attempt.</summary>
    public int? LastStatusCode { get; init; }

    /// <summary>Error of the last attempt.</summary>
    public string? LastError { get; init; }

    /// <summary>When the event was queued.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was delivered.</summary>
    public DateTimeOffset? DeliveredAt { get; init; }

    /// <summary>Every attempt.</summary>
    public IReadOnlyList<WebhookAttempt> AttemptLog { get; init; } = [];
}

/// <summary>One attempt of a delivery.</summary>
public sealed class WebhookAttempt : ApiObject
{
    /// <summary>When.</summary>
    public DateTimeOffset AttemptedAt { get; init; }

    /// <summary>HTTP status (null on a network error).</summary>
    public int? StatusCode { get; init; }

    /// <summary>Error.</summary>
    public string? Error { get; init; }

    /// <summary>Duration in ms.</summary>
    public int DurationMs { get; init; }
}

/// <summary>Options of <c>Webhooks.GetDeliveriesAsync</c>.</summary>
public sealed class WebhookDeliveryListOptions : ListOptions;
