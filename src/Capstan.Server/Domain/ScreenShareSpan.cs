namespace Capstan.Server.Domain;

/// <summary>One screen share of a session peer: from the instant Janus saw its feed publish to the instant it left
/// (null while it goes on). <see cref="FeedId"/> is the share's Janus feed (not on the wire).</summary>
public sealed class ScreenShareSpan
{
    public long FeedId { get; set; }

    public DateTime StartedAt { get; set; }

    public DateTime? EndedAt { get; set; }
}
