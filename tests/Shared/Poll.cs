namespace Capstan.Testing;

/// <summary>The one condition wait of the cluster harness, its tests and bench/cluster: polls a condition until it
/// holds or a deadline passes, then fails naming what was awaited. No test framework here (the benchmarks use it
/// too): a deadline is a <see cref="TimeoutException"/>, which a test reports as its failure.</summary>
public static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every <paramref name="every"/> (default 100 ms) until it holds;
    /// <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, CancellationToken ct = default, TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting for: {what}");
            }
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100), ct);
        }
    }

    /// <summary>The same for a condition that needs no await.</summary>
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan timeout, CancellationToken ct = default, TimeSpan? every = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout, ct, every);
}
