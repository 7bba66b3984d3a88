namespace Capstan.Client.Resources;

/// <summary>The RealtimeKit API, one property per resource as in the official SDK's <c>client.realtimeKit</c>.</summary>
public sealed class RealtimeKitClient
{
    internal RealtimeKitClient(ApiTransport transport)
    {
        Apps = new AppsResource(transport);
        Meetings = new MeetingsResource(transport);
        Presets = new PresetsResource(transport);
        Sessions = new SessionsResource(transport);
        ActiveSession = new ActiveSessionResource(transport);
        Recordings = new RecordingsResource(transport);
        Webhooks = new WebhooksResource(transport);
    }

    /// <summary>Apps of the account.</summary>
    public AppsResource Apps { get; }

    /// <summary>Meetings and their participants.</summary>
    public MeetingsResource Meetings { get; }

    /// <summary>The built-in presets.</summary>
    public PresetsResource Presets { get; }

    /// <summary>Sessions (live and ended meeting instances).</summary>
    public SessionsResource Sessions { get; }

    /// <summary>A meeting's live session: read it, kick participants.</summary>
    public ActiveSessionResource ActiveSession { get; }

    /// <summary>Composite and track recordings, and their downloads.</summary>
    public RecordingsResource Recordings { get; }

    /// <summary>Webhook subscriptions, their deliveries and signature verification.</summary>
    public WebhooksResource Webhooks { get; }
}
