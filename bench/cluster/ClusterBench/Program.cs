using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

// The cluster benchmark (bench/cluster/README.md): claim and start latency on the cluster against one node, the
// gap after a node loss, and the recordings a worker admits at its measured capacity. Runs inside scripts/netns.sh; every figure is printed with the machine's 1-minute load.

var quick = args.Contains("--quick");
var onlyAt = Array.IndexOf(args, "--only");
var only = onlyAt >= 0 && onlyAt + 1 < args.Length ? args[onlyAt + 1].Split(',') : null;
bool Wants(string what) => only is null || only.Contains(what);
var starts = quick ? 3 : 10;
var losses = quick ? 1 : 3;

using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(quick ? 14 : 38));
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
var ct = cts.Token;
var status = 0;
Console.WriteLine($"== cluster benchmark{(quick ? " (--quick)" : "")}: {Environment.ProcessorCount} cores, load {Cluster.Load1():0.00}");

// A page to record (a custom url recording needs no participant): plain green, served on the namespace's network.
using var pages = new TestHttpServer(c => TestHttpServer.Write(c, c.Request.Url!.AbsolutePath == "/moving.html" ? MovingPage : "<!doctype html><html><body style=\"margin:0;background:rgb(0,200,0)\"></body></html>", "text/html"), "10.99.0.1");

async Task RunAsync(string name, ClusterOptions options, Func<Cluster, Task> body)
{
    var started = DateTime.UtcNow;
    Cluster? cluster = null;
    try
    {
        cluster = await Cluster.StartAsync(options, ct);
        Console.WriteLine($"== {name}: up in {(DateTime.UtcNow - started).TotalSeconds:0.0} s (load {Cluster.Load1():0.00}): "
            + string.Join(", ", cluster.ApiNodes.Select(n => $"{n.Name} {n.Url}").Concat(cluster.Workers.Select(w => w.Name))));
        await body(cluster);
    }
    catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or OperationCanceledException)
    {
        status = 1;
        Console.Error.WriteLine($"cluster benchmark: {name} failed: {e.Message}");
        if (cluster is not null)
        {
            Console.Error.WriteLine(cluster.Logs(15));
        }
    }
    finally
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
            var left = cluster.Leftovers();
            if (left.Count > 0)
            {
                status = 1;
                Console.Error.WriteLine($"cluster benchmark: {name} left processes running:\n{string.Join('\n', left)}");
            }
        }
    }
}

if (Wants("claim"))
{
    await RunAsync("cluster (API nodes a, b; workers w1, w2; 1 slot each)", new ClusterOptions { Workers = 2, WorkerSlots = 1 }, c => StartsAsync(c, "cluster"));
}
if (Wants("single"))
{
    await RunAsync("one node (API, Janus and the recorder in node a; 1 slot)", new ClusterOptions { SingleNode = true, WorkerSlots = 1 }, c => StartsAsync(c, "one node"));
}
if (Wants("loss"))
{
    var lease = TimeSpan.FromSeconds(8);
    var loss = new ClusterOptions { Workers = 2, WorkerSlots = 1, Lease = lease };
    loss.WorkerSettings["Recorder:ShipSeconds"] = "2";
    await RunAsync($"node loss (workers w1, w2; lease {lease.TotalSeconds:0} s; segments shipped to the bucket every 2 s)", loss, c => LossAsync(c, lease));
}
if (Wants("capacity"))
{
    await RunAsync("capacity (API node a; worker w1 alone, admitting by measured cost, at most 8 slots)", new ClusterOptions { Workers = 1, WorkerSlots = 8 }, CapacityAsync);
}
Console.WriteLine(status == 0 ? "== done" : "== done, with failures (above)");
return status;

// Claim latency (INVOKED to claimed, the worker's own breakdown) and start latency (started_time - invoked_time) of
// custom-url recordings started one after another, alternately on each API node.
async Task StartsAsync(Cluster c, string setup)
{
    var claims = new List<double>();
    var startLatencies = new List<double>();
    using var a = c.Client(c.A);
    using var b = c.ApiNodes.Count > 1 ? c.Client(c.B) : null;
    // Warm-up starts first, until every recorder has run one (the first claim and page of each process run cold: 400
    // to 900 ms more): printed, not counted.
    var recorders = c.Workers.Count > 0 ? c.Workers : [c.A];
    var warm = new HashSet<string>();
    for (var i = 0; claims.Count < starts; i++)
    {
        if (i > starts + 4 * recorders.Count)
        {
            throw new InvalidOperationException($"a recorder never took a start: only {string.Join(", ", warm)} did");
        }
        var api = i % 2 == 1 && b is not null ? b : a;
        var meeting = await PostAsync(a, $"{c.AppPath}/meetings", new { title = "bench" });
        var rec = await PostAsync(api, $"{c.AppPath}/recordings", new { meeting_id = meeting["id"]!.GetValue<string>(), url = pages.Url("green.html"), video_config = new { codec = "H264", width = 640, height = 360 } });
        var id = rec["id"]!.GetValue<string>();
        await WaitStatusAsync(a, c, id, "RECORDING", 60);
        var recorder = c.WorkerOf(id) ?? throw new InvalidOperationException("no recorder names the recording in its log");
        var line = await recorder.Process.WaitForLineAsync(l => l.RecordingId == id && l.Message.StartsWith("Recording started:", StringComparison.Ordinal), "the start's breakdown", TimeSpan.FromSeconds(10), ct);
        var claim = double.Parse(ClaimMs().Match(line.Message).Groups[1].Value, CultureInfo.InvariantCulture);
        await Task.Delay(1500, ct);
        await PutAsync(api, $"{c.AppPath}/recordings/{id}", new { action = "stop" });
        var done = await WaitStatusAsync(a, c, id, "UPLOADED", 90);
        var start = (Time(done, "started_time") - Time(done, "invoked_time")).TotalMilliseconds;
        var warmUp = warm.Add(recorder.Name) || warm.Count < recorders.Count;
        if (!warmUp)
        {
            claims.Add(claim);
            startLatencies.Add(start);
        }
        Console.WriteLine($"   {(warmUp ? "warm-up start" : $"start {claims.Count}")} via node {(api == a ? "a" : "b")} on {recorder.Name}: claimed +{claim:0} ms, started +{start:0} ms (load {Cluster.Load1():0.00})");
        await IdleAsync(a, c);
    }
    Console.WriteLine($"{setup}: claim latency (INVOKED to claimed) p50 {P(claims, 50):0} ms, p95 {P(claims, 95):0} ms over {claims.Count} (load {Cluster.Load1():0.00})");
    Console.WriteLine($"{setup}: start latency (started_time - invoked_time) p50 {P(startLatencies, 50):0} ms, p95 {P(startLatencies, 95):0} ms over {startLatencies.Count} (load {Cluster.Load1():0.00})");
}

// The gap after the loss of the worker holding a recording: its whole process group killed, the other worker takes
// the job when the lease runs out and goes on; the gap as the delivered recording lists it.
async Task LossAsync(Cluster c, TimeSpan lease)
{
    using var a = c.Client(c.A);
    for (var i = 0; i < losses; i++)
    {
        var meeting = await PostAsync(a, $"{c.AppPath}/meetings", new { title = "bench" });
        var id = (await PostAsync(a, $"{c.AppPath}/recordings", new { meeting_id = meeting["id"]!.GetValue<string>(), url = pages.Url("green.html"), video_config = new { codec = "H264", width = 640, height = 360 } }))["id"]!.GetValue<string>();
        await WaitStatusAsync(a, c, id, "RECORDING", 60);
        var holder = c.WorkerOf(id) ?? throw new InvalidOperationException("no worker names the recording");
        var other = c.Workers.Single(w => w != holder);
        await Task.Delay(4000, ct);
        var kill = DateTime.UtcNow;
        holder.Process.KillGroup();
        JsonNode? rec = null;
        await Poll.UntilAsync(async () => (rec = await GetAsync(a, $"{c.AppPath}/recordings/{id}"))["gaps"]!.AsArray().Count == 1, "the other worker to continue", TimeSpan.FromSeconds(60), ct, TimeSpan.FromMilliseconds(100));
        var back = Time(rec!["gaps"]![0]!, "end");
        await Task.Delay(3000, ct);
        await PutAsync(a, $"{c.AppPath}/recordings/{id}", new { action = "stop" });
        var done = await WaitStatusAsync(a, c, id, "UPLOADED", 90);
        var gap = done["gaps"]![0]!;
        Console.WriteLine($"node loss {i + 1}: {holder.Name} killed, {other.Name} recording again {(back - kill).TotalSeconds:0.00} s later; gap in the file {(Time(gap, "end") - Time(gap, "start")).TotalSeconds:0.00} s "
            + $"(lease {lease.TotalSeconds:0} s); delivered {done["recording_duration"]} s (load {Cluster.Load1():0.00})");
        await c.RestartWorkerAsync(holder, ct);
        await IdleAsync(a, c);
    }
}

// Recordings per worker at its measured capacity: more 1280x720 custom-url recordings of a page whose whole picture
// moves (a still page costs an encoder next to nothing) than its slots are started at once; the worker admits what its cost estimate says fits in 80 % of the machine, measures them, admits more if the
// measure says so, and the rest wait. (One worker: two on this one machine would each count the whole of it.)
async Task CapacityAsync(Cluster c)
{
    using var a = c.Client(c.A);
    var ids = new List<string>();
    for (var i = 0; i < 8; i++)
    {
        var meeting = await PostAsync(a, $"{c.AppPath}/meetings", new { title = "bench" });
        ids.Add((await PostAsync(a, $"{c.AppPath}/recordings", new { meeting_id = meeting["id"]!.GetValue<string>(), url = pages.Url("moving.html"), video_config = new { codec = "H264", width = 1280, height = 720 } }))["id"]!.GetValue<string>());
    }
    var worker = c.Workers.Single();
    var window = TimeSpan.FromSeconds(quick ? 30 : 60);
    var until = DateTime.UtcNow + window;
    var most = 0;
    while (DateTime.UtcNow < until)
    {
        var running = 0;
        foreach (var id in ids)
        {
            running += (await GetAsync(a, $"{c.AppPath}/recordings/{id}"))["status"]!.GetValue<string>() == "RECORDING" ? 1 : 0;
        }
        most = Math.Max(most, running);
        await Task.Delay(1000, ct);
    }
    var node = await c.NodeAsync(a, worker, ct) ?? throw new InvalidOperationException("the worker is not in the nodes table");
    var cap = node["capacity"] ?? throw new InvalidOperationException("the worker reports no measured capacity");
    var classes = string.Join("; ", cap["classes"]!.AsObject().Select(kv =>
        $"{kv.Key} {kv.Value!["cores"]!.GetValue<double>():0.00} core {kv.Value!["memory_bytes"]!.GetValue<long>() / 1048576} MiB ({(kv.Value!["measured"]!.GetValue<bool>() ? $"measured, {kv.Value!["samples"]} samples" : "prior")})"));
    var statuses = new List<string>();
    foreach (var id in ids)
    {
        statuses.Add((await GetAsync(a, $"{c.AppPath}/recordings/{id}"))["status"]!.GetValue<string>());
    }
    Console.WriteLine($"capacity: {worker.Name} ran at most {most} 1280x720 recordings at once over {window.TotalSeconds:0} s ({statuses.Count(x => x == "INVOKED")} still queued); "
        + $"it may use {cap["cpu_cores"]!.GetValue<double>():0.00} core, its recordings used {cap["cpu_used"]!.GetValue<double>():0.00}; estimates: {classes} (load {Cluster.Load1():0.00})");
    foreach (var id in ids)
    {
        await PutAsync(a, $"{c.AppPath}/recordings/{id}", new { action = "stop" });
    }
}

async Task<JsonNode> PostAsync(HttpClient api, string path, object body)
{
    using var r = await api.PostAsJsonAsync(path, body, ct);
    var json = await r.Content.ReadFromJsonAsync<JsonObject>(ct);
    if (!r.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"POST {path}: {(int)r.StatusCode} {json?.ToJsonString()}");
    }
    return json!["data"]!;
}

async Task PutAsync(HttpClient api, string path, object body)
{
    using var r = await api.PutAsJsonAsync(path, body, ct);
    if (r.StatusCode != HttpStatusCode.OK)
    {
        throw new InvalidOperationException($"PUT {path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync(ct)}");
    }
}

async Task<JsonNode> GetAsync(HttpClient api, string path)
{
    using var r = await api.GetAsync(path, ct);
    var json = await r.Content.ReadFromJsonAsync<JsonObject>(ct);
    if (!r.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"GET {path}: {(int)r.StatusCode} {json?.ToJsonString()}");
    }
    return json!["data"]!;
}

async Task<JsonNode> WaitStatusAsync(HttpClient api, Cluster c, string id, string wanted, double seconds)
{
    JsonNode? rec = null;
    await Poll.UntilAsync(async () =>
    {
        rec = await GetAsync(api, $"{c.AppPath}/recordings/{id}");
        var s = rec["status"]!.GetValue<string>();
        return s == "ERRORED" && wanted != "ERRORED" ? throw new InvalidOperationException("the recording ERRORED: " + rec.ToJsonString()) : s == wanted;
    }, $"recording {id} {wanted}", TimeSpan.FromSeconds(seconds), ct, TimeSpan.FromMilliseconds(50));
    return rec!;
}

// Every recorder idle with its warm surface again, so each start finds the same room.
async Task IdleAsync(HttpClient api, Cluster c)
{
    foreach (var w in c.Workers.Count > 0 ? c.Workers : [c.A])
    {
        await Poll.UntilAsync(async () => await c.NodeAsync(api, w, ct) is { } n && n["busy"]!.GetValue<int>() == 0 && n["warm"]!.GetValue<int>() >= 1,
            $"{w.Name} idle with its warm surface", TimeSpan.FromSeconds(60), ct, TimeSpan.FromMilliseconds(250));
    }
}

static double P(List<double> values, int percentile)
{
    var sorted = values.Order().ToList();
    return sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static DateTime Time(JsonNode node, string field) =>
    DateTime.Parse(node[field]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

internal partial class Program
{
    /// <summary>A page whose whole picture changes every frame, as a meeting's does: a rotating colour wheel over a
    /// sliding gradient.</summary>
    internal const string MovingPage = """
        <!doctype html><html><head><style>
        html,body{margin:0;height:100%;overflow:hidden}
        body{background:linear-gradient(90deg,#c33,#3c3,#33c,#c3c,#c33);background-size:400% 100%;animation:slide 3s linear infinite}
        div{position:absolute;left:25%;top:10%;width:50vh;height:50vh;border-radius:50%;background:conic-gradient(red,yellow,lime,aqua,blue,magenta,red);animation:spin 2s linear infinite}
        @keyframes slide{to{background-position:400% 0}}@keyframes spin{to{transform:rotate(360deg) translateX(20vw)}}
        </style></head><body><div></div></body></html>
        """;

    [GeneratedRegex(@"claimed \+(\d+)")]
    private static partial Regex ClaimMsRegex();

    internal static Regex ClaimMs() => ClaimMsRegex();
}
