using System.Collections.Concurrent;

namespace Capstan.Server.Meetings;

/// <summary>The active speaker of a meeting, from Janus VideoRoom's audio levels.
/// <para>Janus (the room's <c>audiolevel_event</c>, <see cref="AudioActivePackets"/>, <see cref="AudioLevelAverage"/>)
/// averages the level each publisher's browser writes into every Opus packet (the ssrc-audio-level RTP extension)
/// over a window of packets and says <c>talking</c> when a window's average is louder than the threshold and
/// <c>stopped-talking</c> when one is not. It tells every handle that joined the room as a publisher (the meeting
/// page's, the recorder view's, the native compositor's) and the server's event handler.</para>
/// <para>The rule, the same in meeting.js (<c>speakers</c>), in the native compositor (<see cref="Recorder.NativeComposite"/>)
/// and on the server (<see cref="ActiveSpeakers"/>): the active speaker is whoever started talking last, while they
/// talk and for <see cref="Hold"/> after they stop (a pause between sentences does not move the outline); after
/// that, whoever else is still talking and started last, or nobody. A screen share's sound is not a speaker.</para>
/// <para>Pure: the caller passes the time.</para></summary>
public sealed class ActiveSpeaker
{
    /// <summary>How long the active speaker stays so after Janus says they stopped talking.</summary>
    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(2);

    /// <summary>Packets of one averaging window: browsers send an Opus packet every 20 ms, so one second (Janus's
    /// default is 100, two seconds, which makes the outline lag a sentence behind).</summary>
    public const int AudioActivePackets = 50;

    /// <summary>The window's average level (in -dBov: 0 is the loudest, 127 digital silence) under which a publisher
    /// is talking. Janus's default, 25 (-25 dBov), asks for a loud, close voice: the media tests' steady tone at
    /// -18 dBFS peak (-21 dBFS RMS) reaches Janus, after Chromium's audio processing, at 27.7-27.8, so even it would
    /// not count. 45 takes a voice 20 dB quieter than that (a second of speech holds pauses, which pull the average
    /// down) and still leaves a quiet room's noise floor, after the browser's noise suppression, out.</summary>
    public const int AudioLevelAverage = 45;

    /// <summary>The outline drawn on the active speaker's tile, in the participants' view, the recorder view
    /// (meeting.css, <c>.tile.speaking</c>) and the native compositor, which holds it
    /// (<see cref="Gst.Compositor.CompositorPipeline.OutlineColour"/>).</summary>
    public const string OutlineColour = Gst.Compositor.CompositorPipeline.OutlineColour;

    /// <summary>The outline's width in pixels (<see cref="Gst.Compositor.CompositorPipeline.OutlineWidth"/>).</summary>
    public const int OutlineWidth = Gst.Compositor.CompositorPipeline.OutlineWidth;

    private readonly Dictionary<long, (DateTimeOffset Started, DateTimeOffset? Stopped)> _talk = [];

    /// <summary>Janus said <paramref name="feed"/> is talking.</summary>
    public void Talking(long feed, DateTimeOffset now) => _talk[feed] = (now, null);

    /// <summary>Janus said <paramref name="feed"/> stopped talking.</summary>
    public void Stopped(long feed, DateTimeOffset now)
    {
        if (_talk.TryGetValue(feed, out var t) && t.Stopped is null)
        {
            _talk[feed] = (t.Started, now);
        }
    }

    /// <summary>The feed left the room (or unpublished): never the speaker again until it talks.</summary>
    public void Remove(long feed) => _talk.Remove(feed);

    /// <summary>The active speaker's feed at <paramref name="now"/>, or null.</summary>
    public long? Current(DateTimeOffset now)
    {
        long? best = null;
        var started = DateTimeOffset.MinValue;
        foreach (var (feed, t) in _talk.ToList())
        {
            if (t.Stopped is { } stopped && now - stopped >= Hold)
            {
                _talk.Remove(feed);
                continue;
            }
            if (best is null || t.Started > started)
            {
                (best, started) = (feed, t.Started);
            }
        }
        return best;
    }

    /// <summary>When <see cref="Current"/> may next change by itself (a hold running out), or null.</summary>
    public DateTimeOffset? NextChange(DateTimeOffset now)
    {
        DateTimeOffset? next = null;
        foreach (var t in _talk.Values)
        {
            if (t.Stopped is { } stopped && stopped + Hold > now && (next is null || stopped + Hold < next))
            {
                next = stopped + Hold;
            }
        }
        return next;
    }
}

/// <summary>The active speaker of each meeting's live session, kept by the server in memory (per node, as
/// <see cref="ScreenShares"/> are) from the <c>talking</c> and <c>stopped-talking</c> events of Janus's event
/// handler (<see cref="JanusEventSink"/>); forgotten with the meeting's room. Read with <see cref="Current"/>
/// (the peer id of the session's participant who is the active speaker).</summary>
public sealed class ActiveSpeakers(TimeProvider time)
{
    private sealed class Meeting
    {
        public ActiveSpeaker Rule { get; } = new();

        public Dictionary<long, Guid> Peers { get; } = [];
    }

    private readonly ConcurrentDictionary<Guid, Meeting> _meetings = new();

    /// <summary>Janus said the camera feed <paramref name="feed"/> of <paramref name="peer"/> started or stopped talking.</summary>
    public void Talking(Guid meetingId, long feed, Guid peer, bool talking)
    {
        var m = _meetings.GetOrAdd(meetingId, _ => new Meeting());
        lock (m)
        {
            m.Peers[feed] = peer;
            if (talking)
            {
                m.Rule.Talking(feed, time.GetUtcNow());
            }
            else
            {
                m.Rule.Stopped(feed, time.GetUtcNow());
            }
        }
    }

    /// <summary>The peer left: no longer the active speaker.</summary>
    public void Left(Guid meetingId, long feed)
    {
        if (_meetings.TryGetValue(meetingId, out var m))
        {
            lock (m)
            {
                m.Rule.Remove(feed);
            }
        }
    }

    /// <summary>The peer id of the meeting's active speaker now, or null.</summary>
    public Guid? Current(Guid meetingId)
    {
        if (!_meetings.TryGetValue(meetingId, out var m))
        {
            return null;
        }
        lock (m)
        {
            return m.Rule.Current(time.GetUtcNow()) is { } feed && m.Peers.TryGetValue(feed, out var peer) ? peer : null;
        }
    }

    /// <summary>The meeting's room is gone.</summary>
    public void Forget(Guid meetingId) => _meetings.TryRemove(meetingId, out _);
}
