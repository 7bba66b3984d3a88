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

    // A CI run's source (ClusterMediaTests.KilledWorkerGroup..., a loaded machine): the participant's fake camera
    // fell behind its microphone from 0 to -610 ms over 40 s, by 220 ms at once between 7.1 s and 8.2 s.
    private static readonly double[] DriftingFlashes = [2.598, 3.265, 4.562, 5.463, 7.119, 8.439, 9.272, 10.639, 11.672, 12.373, 13.679, 14.572, 16.172, 17.272, 18.106, 19.473, 20.506, 21.206, 22.506, 23.406, 25.006, 26.248, 27.048, 28.418, 29.569, 30.270, 31.569, 32.469, 34.069, 35.169, 36.003, 37.369, 38.404, 39.103, 40.403, 41.310, 42.903];
    private static readonly double[] DriftingTones = [2.600, 3.300, 4.600, 5.500, 7.100, 8.200, 9.000, 10.400, 11.400, 12.100, 13.400, 14.300, 15.900, 17.000, 17.800, 19.200, 20.200, 20.900, 22.200, 23.100, 24.700, 25.800, 26.600, 28.000, 29.000, 29.700, 31.000, 31.900, 33.500, 34.600, 35.400, 36.800, 37.800, 38.500, 39.800, 40.700, 42.300, 43.400];

    [Fact]
    public void PairFollowing_ASourceWhoseOffsetDrifts_PairsEveryFlashWithItsOwnTone()
    {
        // One common shift leaves the first four events out and pairs the second flash with the first tone.
        var common = SyncReport.Pair(DriftingFlashes, DriftingTones);
        Assert.Equal(33, common.Pairs.Count);

        var r = SyncReport.PairFollowing(DriftingFlashes, DriftingTones);
        Assert.Equal(DriftingFlashes, r.Pairs.Select(p => p.Flash));
        // Each tone is the event's own: the nearest one at or before its flash's time less the drift so far.
        Assert.Equal(DriftingTones.Take(37), r.Pairs.Select(p => p.Tone));
        Assert.InRange(r.Pairs[0].OffsetMs, -5, 5);
        Assert.InRange(r.Pairs[^1].OffsetMs, -610, -590);
    }

    [Fact]
    public void Against_ADriftingSource_FindsEveryEventOfTheFile()
    {
        // The same CI run's file, its first part (recorded 2.77 s after the source's events began): the recording
        // added -65 to +73 ms to what the source held (+40 once settled); against a source paired on one shift only 8 of its 10 events
        // were found, and the test failed.
        double[] flashes = [2.700, 4.333, 5.667, 6.467, 7.867, 8.900, 9.600, 10.900, 11.800, 13.400];
        double[] tones = [2.672, 4.368, 5.468, 6.268, 7.668, 8.668, 9.368, 10.668, 11.568, 13.168];
        var file = SyncReport.Pair(flashes, tones);
        Assert.Equal(8, file.Against(SyncReport.Pair(DriftingFlashes, DriftingTones), near: 2.7).Pairs.Count);

        var added = file.Against(SyncReport.PairFollowing(DriftingFlashes, DriftingTones), near: 2.7);
        Assert.Equal(10, added.Pairs.Count);
        Assert.Equal([-65, 54, 40, 73, 40, 40, 41, 47, 40, 40], added.Pairs.Select(p => (int)Math.Round(p.OffsetMs)));
    }

    [Fact]
    public void NotAtSource_CountsOnlyEventsTheSourceNeverHad_NotOnesItsProbeSawHalfOf()
    {
        // A loaded run's source probe (ClusterMediaTests.KilledWorkerGroup..., after the take-over): it dropped the
        // tone of the event at 33.84 s and the flash of the one at 42.2 s, both of which the file held.
        double[] sourceFlashes = [2.494, 3.179, 4.484, 5.384, 6.992, 8.120, 9.067, 10.433, 11.467, 12.167, 13.487, 14.375, 15.975, 17.077, 17.909, 19.275, 20.309, 21.010, 22.309, 23.209, 24.809, 25.909, 26.743, 28.108, 29.144, 29.844, 31.213, 32.180, 33.840, 34.942, 35.771, 37.137, 38.167, 38.867, 40.170, 41.067, 43.768, 44.601, 45.967, 47.001, 47.701, 49.004, 49.901, 51.568];
        double[] sourceTones = [2.487, 3.167, 4.467, 5.367, 6.967, 8.067, 8.867, 10.267, 11.267, 11.967, 13.267, 14.167, 15.767, 16.867, 17.667, 19.067, 20.067, 20.767, 22.067, 22.967, 24.567, 25.667, 26.467, 27.867, 28.867, 29.567, 30.867, 31.767, 34.467, 35.267, 36.667, 37.667, 38.367, 39.667, 40.567, 42.167, 43.267, 44.067, 45.467, 46.467, 47.167, 48.467, 49.367, 50.967, 52.067];
        var source = SyncReport.PairFollowing(sourceFlashes, sourceTones);
        Assert.Equal(43, source.Pairs.Count);
        double[] flashes = [18.067, 19.067, 20.733, 21.833, 22.667, 24.000, 25.033, 25.733, 27.033, 27.967, 29.533];
        double[] tones = [17.606, 18.612, 20.326, 21.426, 22.226, 23.624, 24.624, 25.316, 26.602, 27.502, 29.102, 30.202];
        var file = SyncReport.Pair(flashes, tones);
        Assert.Equal(11, file.Pairs.Count);

        var added = file.Against(source, near: 13.2);
        Assert.Equal(9, added.Pairs.Count);
        Assert.Empty(file.NotAtSource(source, near: 13.2));

        // An event the participant never made (a flash and tone 0.35 s after the file's last) is counted.
        var spurious = SyncReport.Pair([.. flashes, 29.883], [.. tones, 29.452]);
        Assert.Equal(29.883, Assert.Single(spurious.NotAtSource(source, near: 13.2)).Flash, 3);
    }

    [Fact]
    public void PairFollowing_ACameraThatStallsByMoreThanTheTolerance_KeepsToItsOwnTones()
    {
        // A CI run's source (the cluster take-over test, the machine saturated): the fake camera went from -156 ms to
        // -584 ms behind its microphone in one step, between 11.95 s and 13.08 s. Followed within 0.3 s, 23 of its 46
        // flashes were paired, half of them with the next event's tone (+92 to +925 ms).
        double[] flashes = [2.974, 3.674, 4.979, 5.876, 7.499, 8.679, 9.509, 10.884, 11.953, 13.081, 14.373, 15.279, 16.872, 17.972, 18.806, 20.173, 21.206, 21.906, 23.206, 24.106, 25.706, 26.806, 27.640, 29.006, 30.039, 30.739, 32.042, 32.972, 34.541, 35.697, 36.524, 37.892, 38.924, 39.624, 40.924, 41.824, 43.457, 44.524, 45.357, 46.724, 47.757, 48.457, 49.757, 50.659, 52.257, 53.362];
        double[] tones = [2.997, 3.697, 4.997, 5.897, 7.497, 8.597, 9.397, 10.797, 11.797, 12.497, 13.797, 14.697, 16.297, 17.397, 18.197, 19.597, 20.597, 21.297, 22.597, 23.497, 25.097, 26.197, 26.997, 28.397, 29.397, 30.097, 31.397, 32.297, 33.897, 34.997, 35.797, 37.197, 38.197, 38.897, 40.197, 41.097, 42.697, 43.797, 44.597, 45.997, 46.997, 47.697, 48.997, 49.897, 51.497, 52.597, 53.397];
        var r = SyncReport.PairFollowing(flashes, tones);
        Assert.Equal(46, r.Pairs.Count);
        // Each flash with the tone of its own event: the i-th of each (the source's tones begin with the flashes).
        Assert.Equal(tones.Take(46), r.Pairs.Select(p => p.Tone));
        Assert.All(r.Pairs, p => Assert.InRange(p.OffsetMs, -800, 30));
    }
}
