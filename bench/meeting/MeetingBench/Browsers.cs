using Microsoft.Playwright;

namespace Capstan.Bench.Meeting;

/// <summary>One headless Debian Chromium with a fake camera and microphone (no browser download), as the media
/// tests launch it.</summary>
public sealed class Browsers : IAsyncDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private readonly IPlaywright _playwright;

    private Browsers(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<Browsers> LaunchAsync(CancellationToken ct)
    {
        if (!File.Exists(Chromium))
        {
            throw new BenchException(Chromium + " is missing (scripts/deps.sh test installs it)");
        }
        var playwright = await Playwright.CreateAsync().WaitAsync(ct);
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
            ],
        }).WaitAsync(ct);
        return new Browsers(playwright, browser);
    }

    /// <summary>The Chromium processes (browser, renderers, GPU and utility processes) under this benchmark's own
    /// process, outside the server's subtree.</summary>
    public static List<ProcStat> Processes(int serverPid) =>
        Proc.Descendants(Environment.ProcessId, [serverPid])
            .Where(p => Proc.Exe(p.Pid) is { } exe ? exe.StartsWith("/usr/lib/chromium/", StringComparison.Ordinal) : p.Comm.StartsWith("chrom", StringComparison.Ordinal))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Browser.CloseAsync();
        }
        catch (PlaywrightException)
        {
            // already gone
        }
        _playwright.Dispose();
    }
}
