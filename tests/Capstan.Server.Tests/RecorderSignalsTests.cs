using Capstan.Server.Domain;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>The wake-up of recorder workers within one node: a wake that comes while a worker is busy (between
/// taking its ticket and waiting) is not lost, and the poll's timeout still bounds a wait nobody wakes.</summary>
public sealed class RecorderSignalsTests
{
    [Fact]
    public async Task WakeWhileBusy_EndsTheNextWaitAtOnce()
    {
        var time = new FakeTimeProvider();
        var signals = new RecorderSignals(time);
        var ticket = signals.NextWake;       // the worker's turn begins: it reads the state, acts...
        signals.Wake();                      // ...a command arrives meanwhile...
        var wait = signals.WaitAsync(ticket, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(wait.IsCompleted, "the wake that came while the worker was busy was lost: it would wait out the poll");

        // Without a ticket of its own turn, the same wait misses that wake (what the workers did before).
        var late = new RecorderSignals(time);
        late.Wake();
        var missed = late.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.False(missed.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(30));
        await missed.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task WaitNobodyWakes_EndsAtThePoll()
    {
        var time = new FakeTimeProvider();
        var signals = new RecorderSignals(time);
        var wait = signals.WaitAsync(signals.NextWake, TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await wait.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }
}
