using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>The recorder's browser is unprivileged and sandboxed: read from /proc while a real recording records.
/// What proves the sandbox: no <c>--no-sandbox</c> anywhere in the browser's process tree, and its renderers
/// (the processes that run the page's code) confined by Chromium itself: each in a user and a PID namespace of its
/// own (not the browser's), with a seccomp-bpf filter (<c>Seccomp: 2</c>) and no new privileges. Not root: every
/// process of it, the display, the capture and the sound server has real, effective, saved and file-system uid
/// of the recorder's user (<c>capstan-recorder</c> when the tests run as root).</summary>
public sealed class SandboxMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    [Fact]
    public async Task RecordersChromium_RunsUnprivileged_WithItsSandbox_AndStillRecords()
    {
        var meeting = await f.NewMeetingAsync();
        var (_, token) = await f.AddParticipantAsync(meeting, "Alice");
        var page = await f.OpenAsync(token, 640, 360);
        try
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
            var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, video_config = new { codec = "H264", width = 640, height = 360 } }, TestContext.Current.CancellationToken);
            var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
            Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
            var id = json!["data"]!["id"]!.GetValue<string>();
            var recording = await f.WaitStatusAsync(id, "RECORDING");
            var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();
            await Task.Delay(2000, TestContext.Current.CancellationToken);

            var expectedUid = ExpectedUid();
            Assert.NotEqual(0, expectedUid);

            // The recording's capture: the process that writes this recording's segment (the surface's warm capture
            // host, or a gst-launch-1.0), on its display.
            var capture = Proc.All().Single(p => p.HoldsFile(f => f.Contains(id, StringComparison.Ordinal) && f.EndsWith(".mkv", StringComparison.Ordinal)));
            var display = capture.Environment("DISPLAY") ?? capture.Args.Single(a => a.StartsWith("display-name=:", StringComparison.Ordinal))["display-name=".Length..];
            // The display's server: the Xvfb that holds the socket bound to it (in this network namespace).
            var sockets = File.ReadLines("/proc/self/net/unix").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(c => c.Length >= 8 && c[7].EndsWith("/tmp/.X11-unix/X" + display[1..], StringComparison.Ordinal)).Select(c => "socket:[" + c[6] + "]").ToHashSet();
            var xvfb = Proc.All().Single(p => p.Comm == "Xvfb" && p.Holds(sockets));
            // The browser on that display: Chromium's main process (its helpers carry --type=...).
            var browser = Proc.All().Single(p => p.Comm == "chromium" && !p.Flags.Any(a => a.StartsWith("--type=", StringComparison.Ordinal))
                && p.Args.Any(a => a.StartsWith("--user-data-dir=" + Path.Combine(f.DataDir, "recorder"), StringComparison.Ordinal)) && p.Environment("DISPLAY") == display);
            var tree = browser.Descendants().Prepend(browser).ToList();
            var pulse = Proc.All().Single(p => p.Comm == "pulseaudio" && p.Environment("XDG_RUNTIME_DIR") == Path.Combine(f.DataDir, "recorder", "pulse"));

            var report = string.Join('\n', tree.Append(xvfb).Append(capture).Append(pulse).Select(p => p.Describe()));
            foreach (var p in tree.Append(xvfb).Append(capture).Append(pulse))
            {
                Assert.True(p.Uids.All(u => u == expectedUid), $"{p.Describe()} does not run as uid {expectedUid}:\n{report}");
            }
            Assert.DoesNotContain(tree, p => p.Flags.Contains("--no-sandbox"));
            // A clean environment: none of the server's own (this test process's) variables reach the browser.
            Assert.Null(browser.Environment("CAPSTAN_NETNS_INTERFACE"));
            Assert.Equal(Path.Combine(f.DataDir, "recorder", "home"), browser.Environment("HOME"));
            // What root gave them: the sound server's main thread at nice -11 and its sink threads real-time (Capstan
            // sets those), the browser's main thread at nice -8 (Chromium sets it, with the one capability it keeps).
            if (new Proc(Environment.ProcessId).Uids[0] == 0)
            {
                var pulseThreads = pulse.Threads();
                Assert.True(pulseThreads.Single(t => t.Tid == pulse.Pid).Nice == -11, $"PulseAudio runs at nice {pulseThreads.Single(t => t.Tid == pulse.Pid).Nice}");
                Assert.True(pulseThreads.Where(t => t.Tid != pulse.Pid).All(t => t.Policy == 2), "PulseAudio's sink threads are not real-time: " + string.Join(", ", pulseThreads));
                Assert.True(browser.Threads().Single(t => t.Tid == browser.Pid).Nice < 0, "the browser's main thread has no raised priority");
                Assert.Equal("0000000000800000", browser.Status("CapEff"));
            }
            var renderers = tree.Where(p => p.Flags.Contains("--type=renderer")).ToList();
            Assert.True(renderers.Count > 0, "the recorder's browser has no renderer:\n" + report);
            foreach (var renderer in renderers)
            {
                Assert.True(renderer.Status("Seccomp") == "2", $"renderer {renderer.Pid} has no seccomp-bpf filter:\n{report}");
                Assert.True(renderer.Status("NoNewPrivs") == "1", $"renderer {renderer.Pid} may gain privileges:\n{report}");
                Assert.True(renderer.Status("CapEff") == "0000000000000000", $"renderer {renderer.Pid} holds capabilities {renderer.Status("CapEff")}:\n{report}");
                Assert.True(renderer.Namespace("user") != browser.Namespace("user"), $"renderer {renderer.Pid} shares the browser's user namespace:\n{report}");
                Assert.True(renderer.Namespace("pid") != browser.Namespace("pid"), $"renderer {renderer.Pid} shares the browser's PID namespace:\n{report}");
            }
            // The whole worker: every capture process it lists (warm surfaces included) is unprivileged.
            foreach (var listed in Directory.GetFiles(Path.Combine(f.DataDir, "recorder", "processes")))
            {
                var p = new Proc(int.Parse(Path.GetFileName(listed), CultureInfo.InvariantCulture));
                if (p.Alive)
                {
                    Assert.True(p.Uids.All(u => u == expectedUid), $"{p.Describe()} ({File.ReadAllText(listed)}) runs as root");
                }
            }

            await Task.Delay(2000, TestContext.Current.CancellationToken);
            await f.ActAsync(id, "stop");
            var stoppedAt = DateTime.UtcNow;
            var done = await f.WaitStatusAsync(id, "UPLOADED");
            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            try
            {
                var facts = await MediaFacts.ProbeAsync(file);
                var recorded = (stoppedAt - started).TotalSeconds;
                Assert.InRange(facts.Duration, recorded - 0.5, recorded + 0.5);
                Assert.Equal(("h264", 640, 360, "aac"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
                Assert.True(await MediaFacts.AverageLumaAsync(file) > 40, "video is black");
                Assert.True(await MediaFacts.MeanVolumeAsync(file) > -50, "audio is silent");
            }
            finally
            {
                File.Delete(file);
            }
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    /// <summary>The recorder's user: <c>capstan-recorder</c> when the tests run as root, else the tests' own user.</summary>
    private static int ExpectedUid()
    {
        var self = new Proc(Environment.ProcessId).Uids[0];
        if (self != 0)
        {
            return self;
        }
        var entry = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).Single(f => f[0] == "capstan-recorder");
        return int.Parse(entry[2], CultureInfo.InvariantCulture);
    }

    /// <summary>One process, read from /proc.</summary>
    private sealed class Proc(int pid)
    {
        public int Pid { get; } = pid;

        private string Dir => $"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}";

        public bool Alive => Directory.Exists(Dir);

        public string[] Args { get; } = Read($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);

        public string Program => Args.FirstOrDefault() ?? string.Empty;

        /// <summary>The command line's words: Chromium rewrites its helpers' command lines into one string.</summary>
        public string[] Flags => CommandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        public string CommandLine => string.Join(' ', Args);

        public string Comm => Read(Dir + "/comm").Trim();

        public int ParentPid => int.Parse(Status("PPid") ?? "0", CultureInfo.InvariantCulture);

        /// <summary>Real, effective, saved and file-system uid.</summary>
        public int[] Uids => (Status("Uid") ?? string.Empty).Split('\t', StringSplitOptions.RemoveEmptyEntries).Select(u => int.Parse(u, CultureInfo.InvariantCulture)).ToArray();

        public string? Status(string field) =>
            Read(Dir + "/status").Split('\n').Select(l => l.Split(':', 2)).Where(kv => kv.Length == 2 && kv[0] == field).Select(kv => kv[1].Trim()).FirstOrDefault();

        public string? Environment(string name) =>
            Read(Dir + "/environ").Split('\0').Where(e => e.StartsWith(name + "=", StringComparison.Ordinal)).Select(e => e[(name.Length + 1)..]).FirstOrDefault();

        public string? Namespace(string kind)
        {
            try
            {
                return new FileInfo($"{Dir}/ns/{kind}").LinkTarget;
            }
            catch (IOException)
            {
                return null;
            }
        }

        public bool Holds(IReadOnlySet<string> sockets) => HoldsFile(sockets.Contains);

        public bool HoldsFile(Func<string, bool> match)
        {
            try
            {
                return Directory.EnumerateFileSystemEntries(Dir + "/fd").Any(fd => new FileInfo(fd).LinkTarget is { } t && match(t));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        public IEnumerable<Proc> Descendants()
        {
            var all = All().ToList();
            var found = new List<Proc>();
            var frontier = new Queue<int>([Pid]);
            while (frontier.TryDequeue(out var parent))
            {
                foreach (var child in all.Where(p => p.ParentPid == parent))
                {
                    found.Add(child);
                    frontier.Enqueue(child.Pid);
                }
            }
            return found;
        }

        /// <summary>Each thread's nice value and scheduling policy (0 normal, 2 round-robin), from its <c>stat</c>.</summary>
        public IReadOnlyList<(int Tid, int Nice, int Policy)> Threads() =>
            Directory.GetDirectories(Dir + "/task").Select(t =>
            {
                // Fields after the command name (which may hold spaces) in parentheses: nice is field 19, policy 41.
                var after = Read(t + "/stat");
                var fields = after[(after.LastIndexOf(')') + 2)..].Split(' ');
                return (int.Parse(Path.GetFileName(t), CultureInfo.InvariantCulture), int.Parse(fields[16], CultureInfo.InvariantCulture), int.Parse(fields[38], CultureInfo.InvariantCulture));
            }).ToList();

        public string Describe() =>
            $"{Pid} {Comm} uid {Status("Uid")} seccomp {Status("Seccomp")} nnp {Status("NoNewPrivs")} {Namespace("user")} {Namespace("pid")}: {CommandLine[..Math.Min(CommandLine.Length, 140)]}";

        public static IEnumerable<Proc> All() =>
            Directory.GetDirectories("/proc")
                .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 0)
                .Where(p => p > 0)
                .Select(p => new Proc(p))
                .Where(p => p.Args.Length > 0);

        private static string Read(string path)
        {
            try
            {
                return File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return string.Empty;
            }
        }
    }
}
