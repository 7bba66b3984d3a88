using Capstan.Gst.Compositor;
using Capstan.Server.Meetings;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>The active speaker rule (<see cref="ActiveSpeaker"/>, the same as meeting.js's), its per-meeting keeping
/// on the server, and how the native compositor outlines and orders the speaker's tile.</summary>
public sealed class ActiveSpeakerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    [Fact]
    public void Speaker_IsWhoStartedTalkingLast_HeldAfterTheyStop_ThenWhoElseStillTalks_ThenNobody()
    {
        var s = new ActiveSpeaker();
        Assert.Null(s.Current(At(0)));
        s.Talking(1, At(0));
        Assert.Equal(1, s.Current(At(0.5)));
        s.Talking(2, At(1));
        Assert.Equal(2, s.Current(At(1)));
        s.Stopped(2, At(3));
        // Held for ActiveSpeaker.Hold (2 s) although 1 still talks, then 1 again.
        Assert.Equal(2, s.Current(At(4.9)));
        Assert.Equal(At(5), s.NextChange(At(4.9)));
        Assert.Equal(1, s.Current(At(5)));
        Assert.Null(s.NextChange(At(5)));
        // 2 starts again during 1's hold: 2 at once.
        s.Stopped(1, At(6));
        s.Talking(2, At(6.5));
        Assert.Equal(2, s.Current(At(6.5)));
        s.Stopped(2, At(7));
        Assert.Equal(2, s.Current(At(8.9)));
        Assert.Null(s.Current(At(9)));
        // A stopped-talking without a talking, or twice, changes nothing; leaving ends it at once.
        s.Stopped(3, At(10));
        Assert.Null(s.Current(At(10)));
        s.Talking(3, At(11));
        s.Remove(3);
        Assert.Null(s.Current(At(11)));
    }

    [Fact]
    public void ActiveSpeakers_KeepOnePeerPerMeeting_ForgottenWithTheRoom()
    {
        var time = new FakeTimeProvider(T0);
        var speakers = new ActiveSpeakers(time);
        var (m1, m2, alice, bob) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        speakers.Talking(m1, 10, alice, true);
        speakers.Talking(m2, 20, bob, true);
        Assert.Equal(alice, speakers.Current(m1));
        Assert.Equal(bob, speakers.Current(m2));
        speakers.Talking(m1, 10, alice, false);
        time.Advance(ActiveSpeaker.Hold - TimeSpan.FromMilliseconds(1));
        Assert.Equal(alice, speakers.Current(m1));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(speakers.Current(m1));
        speakers.Left(m2, 20);
        Assert.Null(speakers.Current(m2));
        speakers.Talking(m2, 20, bob, true);
        speakers.Forget(m2);
        Assert.Null(speakers.Current(m2));
    }

    [Fact]
    public void Native_OutlinesTheSpeakersTileInsideItsEdge_AndPutsItFirstBesideAShare()
    {
        var tile = new Tile(4, 92, 314, 176);
        Assert.Equal(
            [new Tile(4, 92, 314, 4), new Tile(4, 264, 314, 4), new Tile(4, 92, 4, 176), new Tile(314, 92, 4, 176)],
            CompositorPipeline.OutlineBars(tile));
        Assert.Contains("foreground-color=0xffffcc00", CompositorPipeline.OutlineBin(), StringComparison.Ordinal);

        (string, bool)[] video = [("1-1", false), ("2-1", false), ("3-1", true), ("4-1", false)];
        // With a share: the share first, then the speaker's thumbnail, then the others as they came.
        Assert.Equal(["3-1", "4-1", "1-1", "2-1"], CompositorPipeline.Arrange(video, "4-1"));
        Assert.Equal(["3-1", "1-1", "2-1", "4-1"], CompositorPipeline.Arrange(video, null));
        // Without one the grid keeps its order.
        (string, bool)[] grid = [("1-1", false), ("2-1", false)];
        Assert.Equal(["1-1", "2-1"], CompositorPipeline.Arrange(grid, "2-1"));
    }
}
