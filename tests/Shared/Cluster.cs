using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Capstan.Testing;

/// <summary>How a <see cref="Cluster"/> is made.</summary>
public sealed class ClusterOptions
{
    /// <summary><c>src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll</c> of the repository by default.</summary>
    public string? ServerDll { get; set; }

    /// <summary>The network interface Janus gathers ICE candidates on (<c>CAPSTAN_NETNS_INTERFACE</c>, set by
    /// <c>scripts/netns.sh</c>).</summary>
    public string? NetnsInterface { get; set; } = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE");

    public int Workers { get; set; } = 2;

    /// <summary><c>Recorder:Slots</c> of each worker.</summary>
    public int WorkerSlots { get; set; } = 1;

    /// <summary><c>Recorder:Lease</c> of each worker: how long a killed worker's recordings wait for another.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    public int FrameRate { get; set; } = 15;

    /// <summary>Further settings (configuration keys with <c>:</c>) of every node, API and worker.</summary>
    public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);

    /// <summary>Further settings of the workers only.</summary>
    public Dictionary<string, string> WorkerSettings { get; } = new(StringComparer.Ordinal);

    /// <summary>One node doing everything instead (node <c>a</c>: API, Janus and its own recorder with the workers'
    /// settings; no node <c>b</c>, no workers), to compare the cluster with (bench/cluster).</summary>
    public bool SingleNode { get; set; }

    /// <summary>How long the whole cluster may take to come up.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(150);
}

/// <summary>A Capstan node of the cluster: an API node (<see cref="Url"/>) or a worker (<see cref="WorkDir"/>).</summary>
public sealed class ClusterNode(string name, ClusterProcess process, string dataDir, Uri? url, bool janus)
{
    public string Name { get; } = name;

    public ClusterProcess Process { get; internal set; } = process;

    /// <summary>The node's own data folder (each node is a machine of its own: nothing is shared through it).</summary>
    public string DataDir { get; } = dataDir;

    /// <summary>An API node's address (null for a worker).</summary>
    public Uri? Url { get; } = url;

    /// <summary>An API node that runs Janus (meeting pages are served there).</summary>
    public bool Janus { get; } = janus;

    /// <summary>A worker's recorder folder: one sub-folder per recording it runs (segments, capture logs).</summary>
    public string WorkDir => Path.Combine(DataDir, "recorder");

    /// <summary>A worker's lease owner name (<c>{machine}:composite:{node-id}</c>), once it has started.</summary>
    public string? Owner => File.Exists(Path.Combine(WorkDir, "node-id"))
        ? $"{Environment.MachineName}:composite:{File.ReadAllText(Path.Combine(WorkDir, "node-id")).Trim()}"
        : null;

    /// <summary>The log lines of this node about <paramref name="recordingId"/>.</summary>
    public IEnumerable<ClusterLogLine> LinesOf(string recordingId) => Process.Lines.Where(l => l.RecordingId == recordingId);
}

/// <summary>Capstan on several machines, made of processes on this one, for the cluster tests and bench/cluster:
/// PostgreSQL (<c>scripts/pg.sh</c>, its own data folder and port), s3rver as the shared default bucket, two API nodes
/// (<c>capstan serve --database ...</c> with <c>Recorder:Enabled=false</c>; <c>a</c> runs Janus and serves the meeting
/// pages, <c>b</c> runs none) and the workers (<c>capstan worker --database ... --server-url a --node-name wN</c>),
/// each a process group of its own with a data folder of its own and one shared encryption key, as separate machines
/// would have. Run it inside <c>scripts/netns.sh</c> (Janus needs the namespace's interface). Everything it started
/// is stopped on dispose, whichever way the caller ended; <see cref="Leftovers"/> says whether anything survived.
/// <para>Multi-node Janus today: each API node places rooms only on the Janus instances it knows (its own, or
/// <c>Janus:Urls</c>), so meeting pages and the recorders' browsers go to node <c>a</c>; node <c>b</c> serves every
/// other route (starts, commands, lists) against the same database.</para></summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<ClusterProcess> _started = [];
    private readonly ClusterOptions _options;
    private readonly string _serverDll;
    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly List<ClusterNode> _api = [];
    private readonly List<ClusterNode> _workers = [];
    private ClusterProcess? _s3;
    private bool _pgStarted;

    private Cluster(ClusterOptions options, string root)
    {
        _options = options;
        Root = root;
        RepoRoot = FindRepoRoot();
        _serverDll = options.ServerDll ?? Path.Combine(RepoRoot, "src", "Capstan.Server", "bin", "Release", "net10.0", "Capstan.Server.dll");
    }

    /// <summary>The cluster's folder (PostgreSQL, the bucket, each node's data folder and log).</summary>
    public string Root { get; }

    public string RepoRoot { get; }

    public string Database { get; private set; } = string.Empty;

    /// <summary>s3rver's address; the bucket is <see cref="Bucket"/>.</summary>
    public string BucketUrl { get; private set; } = string.Empty;

    public const string Bucket = "recordings";

    public string AccountId { get; } = "cluster" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    public Guid AppId { get; } = Guid.NewGuid();

    public string Token { get; } = "cap_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).Replace('+', '-').Replace('/', '_').TrimEnd('=');

    /// <summary><c>/client/v4/accounts/{account}/realtime/kit/{app}</c>.</summary>
    public string AppPath => $"/client/v4/accounts/{AccountId}/realtime/kit/{AppId:D}";

    /// <summary>The API nodes: <c>a</c> (with Janus), <c>b</c> (none with <see cref="ClusterOptions.SingleNode"/>).</summary>
    public IReadOnlyList<ClusterNode> ApiNodes => _api;

    public ClusterNode A => _api[0];

    public ClusterNode B => _api[1];

    public IReadOnlyList<ClusterNode> Workers => _workers;

    /// <summary>Starts the whole cluster and waits until every node is ready: the API nodes answer <c>/readyz</c>,
    /// Janus is up on <c>a</c>, each worker reports itself with its warm surfaces ready.</summary>
    public static async Task<Cluster> StartAsync(ClusterOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.NetnsInterface))
        {
            throw new InvalidOperationException("The cluster runs inside a network namespace: scripts/netns.sh (CAPSTAN_NETNS_INTERFACE is not set)");
        }
        var root = Path.Combine(Path.GetTempPath(), "capstan-cluster-" + Guid.NewGuid().ToString("N")[..12]);
        // The postgres user and the recorder's user pass through it.
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var cluster = new Cluster(options, root);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.StartTimeout);
            await cluster.StartAllAsync(timeout.Token);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(CancellationToken ct)
    {
        var pg = Task.Run(() => StartPostgresAsync(ct), ct);
        var s3 = Task.Run(() => StartS3Async(ct), ct);
        await Task.WhenAll(pg, s3);
        // Node a first: it migrates the database and creates the account, app and token (bootstrap on an empty database).
        _api.Add(StartApi("a", janus: true, recorder: _options.SingleNode));
        await ReadyAsync(A, ct);
        if (_options.SingleNode)
        {
            await WorkerReadyAsync(A, ct);
            return;
        }
        _api.Add(StartApi("b", janus: false, recorder: false));
        for (var i = 1; i <= _options.Workers; i++)
        {
            _workers.Add(StartWorkerNode($"w{i}"));
        }
        await ReadyAsync(B, ct);
        foreach (var w in _workers)
        {
            await WorkerReadyAsync(w, ct);
        }
    }

    private async Task StartPostgresAsync(CancellationToken ct)
    {
        var port = TestHttpServer.FreePort();
        _pgStarted = true;
        Database = (await Tool.RunAsync(Path.Combine(RepoRoot, "scripts", "pg.sh"), ["start", Path.Combine(Root, "pg"), port.ToString(CultureInfo.InvariantCulture)], ct: ct)).Trim();
        // Each node's pool is kept small: four nodes on one PostgreSQL.
        Database += ";Maximum Pool Size=30";
    }

    private async Task StartS3Async(CancellationToken ct)
    {
        var dir = Path.Combine(RepoRoot, "tests", "Capstan.Storage.Tests", "servers", "s3rver");
        var bin = Path.Combine(dir, "node_modules", ".bin", "s3rver");
        if (!File.Exists(bin))
        {
            throw new InvalidOperationException($"s3rver is not installed: (cd {dir} && npm ci)");
        }
        var data = Path.Combine(Root, "s3");
        Directory.CreateDirectory(data);
        var port = TestHttpServer.FreePort();
        BucketUrl = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        _s3 = ClusterProcess.Start("s3rver", bin, ["--directory", data, "--address", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--configure-bucket", Bucket],
            new Dictionary<string, string>(), Path.Combine(Root, "logs", "s3rver.log"), dir);
        lock (_started)
        {
            _started.Add(_s3);
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Poll.UntilAsync(async () =>
        {
            if (_s3.HasExited)
            {
                throw new InvalidOperationException("s3rver exited: " + _s3.Tail(20));
            }
            try
            {
                using var r = await http.GetAsync(new Uri(BucketUrl + "/"), ct);
                return true; // any answer: it is up
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }, "s3rver to answer", TimeSpan.FromSeconds(60), ct, TimeSpan.FromMilliseconds(200));
    }

    /// <summary>What every node shares: the database, the key, the bucket, logs as JSON (timestamps in UTC, the
    /// recording's id in each line's scope).</summary>
    private Dictionary<string, string> Common(string name)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["Capstan__EncryptionKey"] = _key,
            ["Metrics__Node"] = name,
            ["Storage__DefaultBucket__S3__Endpoint"] = BucketUrl,
            ["Storage__DefaultBucket__S3__Bucket"] = Bucket,
            ["Storage__DefaultBucket__S3__AccessKey"] = "S3RVER",
            ["Storage__DefaultBucket__S3__Secret"] = "S3RVER",
            ["Storage__DefaultBucket__S3__Path"] = "default-bucket",
            ["Logging__Format"] = "json",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Capstan"] = "Information",
            // Test pages are served on the namespace's own network; the test servers on loopback.
            ["Outbound__AllowedNetworks__0"] = "10.99.0.0/24",
            ["Outbound__AllowedNetworks__1"] = "127.0.0.0/8",
            // Tests poll recordings from several tasks: the per-node budgets are not what is tested here.
            ["RateLimits__Recordings__PermitLimit"] = "1000000",
            ["RateLimits__Api__PermitLimit"] = "1000000",
        };
        foreach (var (k, v) in _options.Settings)
        {
            env[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        }
        return env;
    }

    private ClusterNode StartApi(string name, bool janus, bool recorder)
    {
        var data = Path.Combine(Root, name);
        Directory.CreateDirectory(data);
        var port = TestHttpServer.FreePort();
        var url = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var env = recorder ? RecorderSettings(name) : Common(name);
        env["Recorder__Enabled"] = recorder ? "true" : "false";
        env["Janus__Enabled"] = janus ? "true" : "false";
        env["Janus__Interface"] = _options.NetnsInterface!;
        env["Janus__RtpPortRange"] = "20000-20999";
        if (janus)
        {
            env["CAPSTAN_BOOTSTRAP_ACCOUNT_ID"] = AccountId;
            env["CAPSTAN_BOOTSTRAP_APP_ID"] = AppId.ToString("D");
            env["CAPSTAN_BOOTSTRAP_TOKEN"] = Token;
        }
        var p = ClusterProcess.Start(name, "dotnet", [_serverDll, "serve", "--database", Database, "--data-dir", data, "--port", port.ToString(CultureInfo.InvariantCulture), "--public-url", url.ToString().TrimEnd('/')],
            env, Path.Combine(Root, "logs", name + ".log"));
        lock (_started)
        {
            _started.Add(p);
        }
        return new ClusterNode(name, p, data, url, janus);
    }

    private ClusterNode StartWorkerNode(string name)
    {
        var data = Path.Combine(Root, name);
        Directory.CreateDirectory(data);
        var p = LaunchWorker(name, data);
        return new ClusterNode(name, p, data, null, false);
    }

    private ClusterProcess LaunchWorker(string name, string data)
    {
        var env = RecorderSettings(name);
        env["Janus__Enabled"] = "false";
        env.Remove("Metrics__Node"); // --node-name names it: the workers are found by that name in the nodes table
        var server = A.Url!.ToString().TrimEnd('/');
        var p = ClusterProcess.Start(name, "dotnet", [_serverDll, "worker", "--database", Database, "--data-dir", data, "--server-url", server, "--public-url", server, "--node-name", name],
            env, Path.Combine(Root, "logs", name + ".log"));
        lock (_started)
        {
            _started.Add(p);
        }
        return p;
    }

    /// <summary>A recorder's settings: <see cref="Common"/> and the workers' slots, lease, frame rate and compositor.</summary>
    private Dictionary<string, string> RecorderSettings(string name)
    {
        var env = Common(name);
        env["Recorder__Slots"] = _options.WorkerSlots.ToString(CultureInfo.InvariantCulture);
        env["Recorder__Lease"] = _options.Lease.ToString("c", CultureInfo.InvariantCulture);
        env["Recorder__FrameRate"] = _options.FrameRate.ToString(CultureInfo.InvariantCulture);
        // The browser composite (the server's own default where GStreamer is installed is native).
        env["Recorder__Compositor"] = "browser";
        foreach (var (k, v) in _options.WorkerSettings)
        {
            env[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        }
        return env;
    }

    /// <summary>Starts worker <paramref name="worker"/> again on its data folder (after it was killed or stopped) and
    /// waits until it is ready.</summary>
    public async Task RestartWorkerAsync(ClusterNode worker, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        await worker.Process.StopAsync(TimeSpan.FromSeconds(20));
        worker.Process = LaunchWorker(worker.Name, worker.DataDir);
        await WorkerReadyAsync(worker, ct);
    }

    private async Task ReadyAsync(ClusterNode node, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(async () =>
        {
            if (node.Process.HasExited)
            {
                throw new InvalidOperationException($"API node {node.Name} exited: {node.Process.Tail(30)}");
            }
            try
            {
                using var r = await http.GetAsync(new Uri(node.Url!, "/readyz"), ct);
                return r.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }, $"API node {node.Name} ready (/readyz)", TimeSpan.FromSeconds(90), ct, TimeSpan.FromMilliseconds(200));
    }

    /// <summary>Waits until the worker reports itself in the nodes table (<c>GET .../system</c>, every 5 s) with all
    /// its slots' warm surfaces ready.</summary>
    public async Task WorkerReadyAsync(ClusterNode worker, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        using var api = Client(A);
        await Poll.UntilAsync(async () =>
        {
            if (worker.Process.HasExited)
            {
                throw new InvalidOperationException($"worker {worker.Name} exited: {worker.Process.Tail(30)}");
            }
            var node = await NodeAsync(api, worker, ct);
            if (node is not null && node["node"]?.GetValue<string>() != worker.Name)
            {
                throw new InvalidOperationException($"worker {worker.Name} reports itself as {node["node"]} (--node-name)");
            }
            return node is not null && node["warm"]!.GetValue<int>() >= _options.WorkerSlots && !node["lost"]!.GetValue<bool>();
        }, $"worker {worker.Name} reported with its warm surfaces", TimeSpan.FromSeconds(120), ct, TimeSpan.FromMilliseconds(250));
    }

    /// <summary>The worker's row of the nodes table (<c>GET /client/v4/accounts/{account}/system</c>), or null.</summary>
    public async Task<JsonNode?> NodeAsync(HttpClient api, ClusterNode worker, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(worker);
        var owner = worker.Owner;
        if (owner is null)
        {
            return null;
        }
        using var r = await api.GetAsync(new Uri($"/client/v4/accounts/{AccountId}/system", UriKind.Relative), ct);
        if (!r.IsSuccessStatusCode)
        {
            return null;
        }
        var body = await r.Content.ReadFromJsonAsync<JsonObject>(ct);
        return body?["data"]?["nodes"]?.AsArray().FirstOrDefault(n => n?["owner"]?.GetValue<string>() == owner);
    }

    /// <summary>An API client of <paramref name="node"/> with the cluster's token (the caller disposes it).</summary>
    public HttpClient Client(ClusterNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var http = new HttpClient { BaseAddress = node.Url, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return http;
    }

    /// <summary>The worker whose log names <paramref name="recordingId"/> last (the one running it now), or null.</summary>
    public ClusterNode? WorkerOf(string recordingId) =>
        (_options.SingleNode ? _api : _workers).Select(w => (Worker: w, Last: w.LinesOf(recordingId).Select(l => (DateTime?)l.At).LastOrDefault()))
            .Where(x => x.Last is not null).OrderBy(x => x.Last).Select(x => x.Worker).LastOrDefault();

    /// <summary>Processes the cluster left: any in a process group it started, or whose command line names its folder.</summary>
    public IReadOnlyList<string> Leftovers()
    {
        List<ClusterProcess> started;
        lock (_started)
        {
            started = [.. _started];
        }
        var pids = started.SelectMany(p => ClusterProcess.GroupMembers(p.Pid)).ToHashSet();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId)
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(Root, StringComparison.Ordinal) && !File.ReadAllText(Path.Combine(dir, "stat")).Contains(") Z ", StringComparison.Ordinal))
                    {
                        pids.Add(pid);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // gone meanwhile
                }
            }
        }
        return pids.Order().Select(pid =>
        {
            try
            {
                return $"{pid} {File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()}";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"{pid} (gone)";
            }
        }).ToList();
    }

    /// <summary>Stops the workers, the API nodes, s3rver and PostgreSQL (each node SIGTERM, then SIGKILL of its group),
    /// keeps the logs under <c>CAPSTAN_CLUSTER_LOGS</c> when set, and deletes the cluster's folder.</summary>
    public async ValueTask DisposeAsync()
    {
        List<ClusterProcess> started;
        lock (_started)
        {
            started = [.. _started];
        }
        // Workers before the API node they record from, then the API nodes, then the bucket.
        foreach (var p in started.AsEnumerable().Reverse())
        {
            try
            {
                await p.DisposeAsync();
            }
            catch (TimeoutException)
            {
                // reported by Leftovers
            }
        }
        if (_pgStarted)
        {
            try
            {
                await Tool.RunAsync(Path.Combine(RepoRoot, "scripts", "pg.sh"), ["stop", Path.Combine(Root, "pg")]);
            }
            catch (InvalidOperationException)
            {
                // reported by Leftovers
            }
        }
        if (Environment.GetEnvironmentVariable("CAPSTAN_CLUSTER_LOGS") is { Length: > 0 } keep && Directory.Exists(Path.Combine(Root, "logs")))
        {
            var to = Path.Combine(keep, Path.GetFileName(Root));
            Directory.CreateDirectory(to);
            foreach (var f in Directory.GetFiles(Path.Combine(Root, "logs")))
            {
                File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
            }
        }
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left for the OS temp cleaner
        }
    }

    /// <summary>The repository: the folder with <c>Capstan.slnx</c> above this program.</summary>
    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Capstan.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Capstan.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The tail of every node's log, for a failure message.</summary>
    public string Logs(int lines = 25)
    {
        List<ClusterProcess> started;
        lock (_started)
        {
            started = [.. _started];
        }
        return string.Join("\n", started.Select(p => $"--- {p.Name} ({p.LogPath})\n{p.Tail(lines)}"));
    }

    /// <summary>Measured on this machine: the 1-minute load average (<c>/proc/loadavg</c>), printed beside each figure.</summary>
    public static double Load1() => double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
