using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;

namespace Capstan.Server.Meetings;

/// <summary>A share slot handed to a participant's page: the Janus feed id its share publishes under and the
/// display that marks the feed as a screen share (<see cref="ScreenShares.Display"/>).</summary>
public sealed record ScreenShareGrant(long FeedId, string Display);

/// <summary>
/// Who shares a screen in which meeting, and the rule that at most <c>max_screenshare_count</c> screens (of the
/// sharer's preset; 1 for hosts and participants, 0 for the recorder) are shared in a meeting at once.
/// <para>
/// A screen share is published as a feed of its own: a second VideoRoom publisher handle in the sharer's Janus
/// session, joined under a feed id granted here, whose display is a small JSON object
/// (<c>{"screenshare":true,"participant_id":...,"name":...}</c>). One feed per share, rather than a second video
/// stream on the camera's feed, leaves the camera's feed, its SDP and everyone's subscriptions to it untouched when a
/// share starts or stops (no renegotiation of the camera, no mid reshuffle for subscribers), and lets a subscriber,
/// the recorder view, the native compositor and a track recording tell a share from a camera by its feed alone,
/// and record it as a file of its own. The feed id is not entered in the feed table, so Janus's events for it do not
/// make the sharer join the session a second time.
/// </para>
/// <para>
/// Slots are kept in memory, on the node that serves the meeting page (rooms are per node). A granted slot counts
/// until the page gives it back, or until Janus no longer lists its feed as a publisher and
/// <see cref="PublishGrace"/> has passed since the grant (a page that closed without giving it back).
/// The server cannot stop a page that ignores the answer and publishes anyway; the rule is enforced for the
/// meeting page and every client that asks for a slot.
/// </para>
/// </summary>
public sealed class ScreenShares(TimeProvider time)
{
    /// <summary>How long a granted slot counts before its feed must be seen publishing in Janus.</summary>
    public static readonly TimeSpan PublishGrace = TimeSpan.FromSeconds(20);

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, List<Slot>> _byMeeting = [];

    // Every share feed granted in a meeting's room, kept until the room goes (Forget): a track recording names the
    // files of a share that has already stopped by its sharer.
    private readonly Dictionary<Guid, Dictionary<long, Guid>> _granted = [];

    private sealed record Slot(long FeedId, Guid ParticipantId, string Name, DateTimeOffset GrantedAt);

    /// <summary>The display of a share feed of <paramref name="participantId"/> named <paramref name="name"/>.</summary>
    public static string Display(Guid participantId, string name) =>
        new JsonObject { ["screenshare"] = true, ["participant_id"] = Ids.Format(participantId), ["name"] = name }.ToJsonString();

    /// <summary>Whether a publisher's display marks a screen share (see <see cref="Display"/>).</summary>
    public static bool IsShareDisplay(string? display) => ShareMarker(display) is not null;

    /// <summary>The name to show for a publisher: "Alice (screen)" for a share of Alice, else the display itself.</summary>
    public static string NameOf(string display) =>
        ShareMarker(display) is { } o ? $"{(o["name"] is JsonValue n && n.TryGetValue<string>(out var s) ? s : "Participant")} (screen)" : display;

    private static JsonObject? ShareMarker(string? display)
    {
        if (display is null || !display.StartsWith('{'))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(display) is JsonObject o && o["screenshare"] is JsonValue v && v.TryGetValue<bool>(out var b) && b ? o : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Grants a share slot, or throws: 403 <c>screenshare_not_allowed</c> when the preset may not share;
    /// 409 <c>screenshare_limit</c> when the meeting already has as many shares as the preset allows, naming who shares;
    /// 409 <c>already_sharing</c> when this participant shares already. <paramref name="livePublishers"/>: the feed ids
    /// Janus lists as publishing in the meeting's room now (null when Janus could not be asked: no slot is dropped).</summary>
    public ScreenShareGrant Grant(Guid meetingId, Guid participantId, string presetName, string name, IReadOnlySet<long>? livePublishers)
    {
        if (!Presets.CanShareScreen(presetName))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "screenshare_not_allowed",
                $"Screen sharing is not allowed for your preset ({presetName}): its permissions.media.screenshare.can_produce is NOT_ALLOWED.");
        }
        var max = Presets.MaxScreenshareCount(presetName);
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var slots = Live(meetingId, livePublishers, now);
            if (slots.Any(s => s.ParticipantId == participantId))
            {
                throw new CapstanException(ErrorCategory.Conflict, "already_sharing", "You are already sharing your screen.") { NoRetry = true };
            }
            if (slots.Count >= max)
            {
                var who = string.Join(", ", slots.Select(s => s.Name));
                throw new CapstanException(ErrorCategory.Conflict, "screenshare_limit",
                    $"{who} {(slots.Count == 1 ? "is" : "are")} already sharing a screen, and this meeting allows {max} screen share{(max == 1 ? "" : "s")} at a time (max_screenshare_count). Try again when they stop.")
                { NoRetry = true };
            }
            var feed = RandomNumberGenerator.GetInt32(1, int.MaxValue) * 1024L + RandomNumberGenerator.GetInt32(0, 1024);
            slots.Add(new Slot(feed, participantId, name, now));
            _byMeeting[meetingId] = slots;
            if (!_granted.TryGetValue(meetingId, out var granted))
            {
                _granted[meetingId] = granted = [];
            }
            granted[feed] = participantId;
            return new ScreenShareGrant(feed, Display(participantId, name));
        }
    }

    /// <summary>Gives back the participant's slot (idempotent); true when there was one.</summary>
    public bool Release(Guid meetingId, Guid participantId)
    {
        lock (_lock)
        {
            return _byMeeting.TryGetValue(meetingId, out var slots) && slots.RemoveAll(s => s.ParticipantId == participantId) > 0;
        }
    }

    /// <summary>The feed ids of the meeting's current share slots.</summary>
    public IReadOnlyList<long> Feeds(Guid meetingId)
    {
        lock (_lock)
        {
            return _byMeeting.TryGetValue(meetingId, out var slots) ? slots.Select(s => s.FeedId).ToList() : [];
        }
    }

    /// <summary>Gives back the slots of <paramref name="participantIds"/> and returns their feed ids (to kick them too).</summary>
    public IReadOnlyList<long> ReleaseAll(Guid meetingId, IReadOnlyCollection<Guid> participantIds)
    {
        lock (_lock)
        {
            if (!_byMeeting.TryGetValue(meetingId, out var slots))
            {
                return [];
            }
            var gone = slots.Where(s => participantIds.Contains(s.ParticipantId)).ToList();
            slots.RemoveAll(gone.Contains);
            return gone.Select(s => s.FeedId).ToList();
        }
    }

    /// <summary>Every share feed granted in the meeting's room so far (live or ended), with its sharer.</summary>
    public IReadOnlyDictionary<long, Guid> GrantedFeeds(Guid meetingId)
    {
        lock (_lock)
        {
            return _granted.TryGetValue(meetingId, out var granted) ? new Dictionary<long, Guid>(granted) : new Dictionary<long, Guid>();
        }
    }

    /// <summary>The meeting and sharer of a granted share feed, or null for any other feed.</summary>
    public (Guid MeetingId, Guid ParticipantId)? GrantOf(long feedId)
    {
        lock (_lock)
        {
            foreach (var (meeting, granted) in _granted)
            {
                if (granted.TryGetValue(feedId, out var participant))
                {
                    return (meeting, participant);
                }
            }
            return null;
        }
    }

    /// <summary>Forgets a meeting's slots and granted feeds (its room is gone).</summary>
    public void Forget(Guid meetingId)
    {
        lock (_lock)
        {
            _byMeeting.Remove(meetingId);
            _granted.Remove(meetingId);
        }
    }

    private List<Slot> Live(Guid meetingId, IReadOnlySet<long>? livePublishers, DateTimeOffset now)
    {
        if (!_byMeeting.TryGetValue(meetingId, out var slots))
        {
            return [];
        }
        if (livePublishers is not null)
        {
            slots.RemoveAll(s => !livePublishers.Contains(s.FeedId) && now - s.GrantedAt > PublishGrace);
        }
        return slots;
    }
}
