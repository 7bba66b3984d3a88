namespace Capstan.Media.Tests;

/// <summary>The flash/tone pairing the sync tests rely on, on figures from real runs (no media).</summary>
public class AvSyncPairingTests
{
    // A CI run's meeting file: the participant's fake camera ran 0.30 to 0.49 s behind its microphone.
    private static readonly double[] LateFlashes = [1.267, 2.233, 4.133, 5.267, 6.067, 7.433, 8.467, 9.200, 10.500, 11.367, 13.000, 14.100, 14.933, 16.300, 17.333, 18.033, 19.333, 20.233];
    private static readonly double[] EarlyTones = [0.896, 1.932, 3.648, 4.826, 5.648, 7.050, 8.050, 8.748, 10.050, 10.948, 12.550, 13.650, 14.450, 15.850, 16.850, 17.548, 18.848, 19.748];

    [Fact]
    public void Pair_ASteadyLargeOffset_PairsEveryEventWithItsOwnTone()
    {
        var r = SyncReport.Pair(LateFlashes, EarlyTones);
        Assert.Equal(18, r.Pairs.Count);
        Assert.All(r.Pairs, p => Assert.InRange(p.OffsetMs, -490, -300));
        Assert.InRange(r.MedianMs, -460, -420);
    }

    [Fact]
    public void Pair_EventsInSync_PairsNearest_AndLeavesOutAToneFarFromTheRest()
    {
        double[] flashes = [0.5, 1.2, 2.5, 3.4, 5.0];
        double[] tones = [0.51, 1.18, 2.52, 3.75, 5.01];
        var r = SyncReport.Pair(flashes, tones);
        Assert.Equal([10, -20, 20, 10], r.Pairs.Select(p => (int)Math.Round(p.OffsetMs)));
    }

    [Fact]
    public void Against_TheSourcesOwnOffset_LeavesWhatTheRecordingAdded()
    {
        var file = SyncReport.Pair(LateFlashes, EarlyTones);
        // The same events at the source, 3 s earlier on another clock, 20 ms less apart than in the file.
        var source = SyncReport.Pair(LateFlashes.Select(f => f - 3).ToList(), EarlyTones.Select(t => t - 3 - 0.020).ToList());
        var added = file.Against(source);
        Assert.Equal(18, added.Pairs.Count);
        Assert.All(added.Pairs, p => Assert.InRange(p.OffsetMs, 19, 21));
    }

    [Fact]
    public void Against_WithTheAnchor_MatchesTheRightCycle_OfASourceWhoseOffsetDrifts()
    {
        // Three cycles of the pattern at the source, its own offset drifting -33 ms a cycle (a starved fake camera);
        // the file holds the middle cycle, with 20 ms added by the recording. Every cycle's flashes fit the file's
        // equally well: only the anchor (where the file's time 0 sits on the source's clock, here 0.3 s off) tells
        // which one the file holds.
        var events = AvSync.CycleEvents();
        const double Origin = 100;
        var sourceFlashes = new List<double>();
        var sourceTones = new List<double>();
        for (var k = 0; k < 3; k++)
        {
            foreach (var e in events)
            {
                sourceFlashes.Add(Origin + (k * AvSync.CycleSeconds) + e);
                sourceTones.Add(Origin + (k * AvSync.CycleSeconds) + e - (0.033 * k));
            }
        }
        var source = SyncReport.Pair(sourceFlashes, sourceTones);
        var fileZero = Origin + AvSync.CycleSeconds - 0.5;
        var file = SyncReport.Pair(events.Select(e => e + 0.5).ToList(), events.Select(e => e + 0.5 - 0.033 + 0.020).ToList());

        var added = file.Against(source, near: fileZero + 0.3);
        Assert.Equal(events.Count, added.Pairs.Count);
        Assert.All(added.Pairs, p => Assert.InRange(p.OffsetMs, 19, 21));
    }
}
