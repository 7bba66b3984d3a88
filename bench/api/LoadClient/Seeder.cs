using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Capstan.Bench;

/// <summary>What the scenarios load: the seeded meetings and recordings, and one spare meeting per worker for
/// start+stop.</summary>
public sealed record SeedData(
    IReadOnlyList<Guid> Meetings, IReadOnlyList<Guid> Recordings, IReadOnlyList<Guid> WorkerMeetings,
    long UploadedCount, int RecordingsPerMeeting, double Seconds);

/// <summary>Seeds a freshly started server. Meetings are created through the API (a few thousand requests);
/// one real recording is started and stopped through the API, and its row (and its recorder job's row) is the
/// template of the bulk insert: the recordings are written straight into the server's own tables, every column
/// copied from the template but the ones that make a row distinct (ids, meeting, status, times, sizes, names).
/// Copying the template keeps the rows valid for the server (its ConfigJson, reasons, new columns) without this
/// code knowing the whole schema.</summary>
public static class Seeder
{
    public const string Uploaded = "UPLOADED";
    public const string Errored = "ERRORED";

    /// <summary>Share of the seeded recordings that are UPLOADED; the rest are ERRORED (finished recordings).</summary>
    public const double UploadedShare = 0.75;

    private static readonly string[] RequiredColumns = ["Id", "AppId", "MeetingId", "Status", "InvokedTime"];

    public static async Task<SeedData> SeedAsync(RunOptions o, Api api, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(api);
        var sw = Stopwatch.StartNew();

        // 1. Meetings, through the API: the seeded ones, then one per worker for start+stop.
        var total = o.Meetings + o.Concurrency;
        var ids = new Guid[total];
        await Parallel.ForEachAsync(Enumerable.Range(0, total), new ParallelOptions { MaxDegreeOfParallelism = o.Concurrency, CancellationToken = ct }, async (i, c) =>
        {
            var title = i < o.Meetings ? $"Bench meeting {i + 1:D4}" : $"Bench start-stop {i - o.Meetings + 1:D3}";
            var m = await api.CallAsync(HttpMethod.Post, $"{api.Kit}/meetings", Api.Body(new { title }), c);
            ids[i] = Guid.Parse(m.GetProperty("data").GetProperty("id").GetString()!);
        });
        var meetings = ids[..o.Meetings];
        var workerMeetings = ids[o.Meetings..];
        Console.WriteLine($"  {total:N0} meetings created through the API ({sw.Elapsed.TotalSeconds:F1} s)");

        // 2. The template: one recording started and stopped through the API (INVOKED -> ERRORED).
        var started = await api.CallAsync(HttpMethod.Post, $"{api.Kit}/recordings", Api.Body(new { meeting_id = meetings[0] }), ct);
        var templateId = Guid.Parse(started.GetProperty("data").GetProperty("id").GetString()!);
        await api.CallAsync(HttpMethod.Put, $"{api.Kit}/recordings/{templateId}", Api.Body(new { action = "stop" }), ct);

        // 3. The bulk insert, in one transaction.
        var recordings = new Guid[Math.Max(0, o.Recordings - 1)];
        long uploaded;
        long uploadedInApp;
        var insertWatch = Stopwatch.StartNew();
        await using (var db = new Db(o))
        {
            await db.OpenAsync(ct);
            uploaded = await InsertRecordingsAsync(db, o, templateId, meetings, recordings, ct);
            await db.AfterBulkLoadAsync(ct);
            uploadedInApp = await db.CountUploadedAsync(o.App, ct);
        }
        var all = new List<Guid>(recordings.Length + 1) { templateId };
        all.AddRange(recordings);
        Console.WriteLine($"  {all.Count:N0} recordings ({uploaded:N0} UPLOADED, the rest ERRORED) over {meetings.Length:N0} meetings, written to the database in {insertWatch.Elapsed.TotalSeconds:F1} s");
        return new SeedData(meetings, all, workerMeetings, uploadedInApp, (int)Math.Ceiling(all.Count / (double)meetings.Length), sw.Elapsed.TotalSeconds);
    }

    private static async Task<long> InsertRecordingsAsync(Db db, RunOptions o, Guid templateId, Guid[] meetings, Guid[] ids, CancellationToken ct)
    {
        var template = await db.ReadRowAsync("Recordings", "Id", templateId, ct)
            ?? throw new BenchException($"the template recording {templateId} is not in table \"Recordings\" (is --db the server's database?)");
        foreach (var c in RequiredColumns.Where(c => !template.ContainsKey(c)))
        {
            throw new BenchException($"table \"Recordings\" has no column \"{c}\": the schema changed, update bench/api/LoadClient/Seeder.cs");
        }
        var jobTemplate = await db.ReadRowAsync("RecorderJobs", "RecordingId", templateId, ct);
        var recordingColumns = template.Keys.ToList();
        var jobColumns = jobTemplate?.Keys.ToList();
        await using var tx = await db.Connection.BeginTransactionAsync(ct);
        await using var recInsert = new BulkInsert(db, tx, "Recordings", recordingColumns);
        await using var jobInsert = jobColumns is null ? null : new BulkInsert(db, tx, "RecorderJobs", jobColumns);

        var rng = new Random(20261125);
        var now = DateTime.UtcNow;
        var baseUrl = o.BaseUrl.GetLeftPart(UriPartial.Authority);
        long uploaded = 0;
        var rec = new Dictionary<string, object?>(StringComparer.Ordinal);
        var job = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < ids.Length; i++)
        {
            var id = Guid.NewGuid();
            ids[i] = id;
            var m = i % meetings.Length;
            var isUploaded = rng.NextDouble() < UploadedShare;
            var invoked = now.AddSeconds(-rng.Next(60, 365 * 24 * 3600)).AddTicks(rng.Next(0, 10_000_000));
            var epoch = new DateTimeOffset(invoked).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

            rec.Clear();
            foreach (var (k, v) in template)
            {
                rec[k] = v;
            }
            rec["Id"] = db.Value(id);
            rec["MeetingId"] = db.Value(meetings[m]);
            rec["OutputFileName"] = $"Bench-meeting-{m + 1:D4}_{epoch}.mp4";
            rec["InvokedTime"] = db.Value(invoked);
            rec["SessionId"] = null;
            rec["TrackDownloadsJson"] = null;
            DateTime updated;
            if (isUploaded)
            {
                uploaded++;
                var startedAt = invoked.AddSeconds(rng.Next(2, 10));
                var duration = rng.Next(60, 7200);
                var stopped = startedAt.AddSeconds(duration);
                updated = stopped.AddSeconds(rng.Next(20, 120));
                rec["Status"] = Uploaded;
                rec["StartedTime"] = db.Value(startedAt);
                rec["StoppedTime"] = db.Value(stopped);
                rec["DurationSeconds"] = (long)duration;
                rec["FileSize"] = (long)duration * rng.Next(100_000, 400_000);
                rec["DownloadUrl"] = $"{baseUrl}/bench-recordings/{id}.mp4";
                rec["DownloadUrlExpiry"] = db.Value(updated.AddDays(7));
                rec["ErrorMessage"] = null;
            }
            else
            {
                updated = invoked.AddSeconds(rng.Next(1, 30));
                rec["Status"] = Errored;
                rec["StartedTime"] = null;
                rec["StoppedTime"] = null;
                rec["DurationSeconds"] = 0L;
                rec["FileSize"] = null;
                rec["DownloadUrl"] = null;
                rec["DownloadUrlExpiry"] = null;
            }
            rec["UpdatedAt"] = db.Value(updated);
            await recInsert.AddAsync(rec, ct);

            if (jobInsert is not null)
            {
                job.Clear();
                foreach (var (k, v) in jobTemplate!)
                {
                    job[k] = v;
                }
                job["Id"] = db.Value(Guid.NewGuid());
                job["RecordingId"] = db.Value(id);
                job["State"] = isUploaded ? "DONE" : "CANCELLED";
                job["DesiredState"] = "STOP";
                job["LeaseOwner"] = null;
                job["LeaseExpiresAt"] = null;
                job["Attempts"] = isUploaded ? 1 : 0;
                job["CreatedAt"] = db.Value(invoked);
                job["UpdatedAt"] = db.Value(updated);
                await jobInsert.AddAsync(job, ct);
            }
        }
        await recInsert.FlushAsync(ct);
        if (jobInsert is not null)
        {
            await jobInsert.FlushAsync(ct);
        }
        await tx.CommitAsync(ct);
        return uploaded;
    }

    /// <summary>The server's database, opened by the load client: SQLite (the server's file, WAL) or PostgreSQL.</summary>
    public sealed class Db(RunOptions o) : IAsyncDisposable
    {
        public DbConnection Connection { get; } = o.DbKind == DbKind.Sqlite
            ? new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = o.Db, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 60 }.ToString())
            : new NpgsqlConnection(o.Db);

        public DbKind Kind { get; } = o.DbKind;

        public async Task OpenAsync(CancellationToken ct)
        {
            await Connection.OpenAsync(ct);
            if (Kind == DbKind.Sqlite)
            {
                await ExecAsync("PRAGMA busy_timeout=60000;", ct);
            }
        }

        /// <summary>The value as the server's provider stores it: SQLite keeps GUIDs as upper-case TEXT and
        /// timestamps as TEXT <c>yyyy-MM-dd HH:mm:ss.fffffff</c>; PostgreSQL has uuid and timestamptz.</summary>
        public object Value(Guid g) => Kind == DbKind.Sqlite ? g.ToString("D").ToUpperInvariant() : g;

        public object Value(DateTime t)
        {
            var utc = DateTime.SpecifyKind(t, DateTimeKind.Utc);
            return Kind == DbKind.Sqlite ? utc.ToString("yyyy-MM-dd HH:mm:ss.fffffff", CultureInfo.InvariantCulture) : utc;
        }

        public async Task<Dictionary<string, object?>?> ReadRowAsync(string table, string keyColumn, Guid key, CancellationToken ct)
        {
            await using var cmd = Connection.CreateCommand();
            cmd.CommandText = $"SELECT * FROM \"{table}\" WHERE \"{keyColumn}\" = {Param(0)}";
            AddParameter(cmd, 0, Value(key));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }
            return row;
        }

        public string Param(int i) => Kind == DbKind.Sqlite ? $"@p{i}" : $"${i + 1}";

        public void AddParameter(DbCommand cmd, int i, object? value)
        {
            ArgumentNullException.ThrowIfNull(cmd);
            var p = cmd.CreateParameter();
            if (Kind == DbKind.Sqlite)
            {
                p.ParameterName = $"@p{i}";
            }
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }

        /// <summary>The app's UPLOADED recordings, all of them (what the status list counts).</summary>
        public async Task<long> CountUploadedAsync(Guid app, CancellationToken ct)
        {
            await using var cmd = Connection.CreateCommand();
            cmd.CommandText = $"SELECT COUNT(*) FROM \"Recordings\" WHERE \"AppId\" = {Param(0)} AND \"Status\" = '{Uploaded}'";
            AddParameter(cmd, 0, Value(app));
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }

        public async Task ExecAsync(string sql, CancellationToken ct)
        {
            await using var cmd = Connection.CreateCommand();
            cmd.CommandText = sql;
            cmd.CommandTimeout = 600;
            await cmd.ExecuteNonQueryAsync(ct);
        }

        /// <summary>What a live database does by itself soon after a bulk load, so that the run sees the steady state:
        /// PostgreSQL's autovacuum vacuums (visibility map: index-only scans) and analyzes the tables; SQLite
        /// checkpoints its WAL. (SQLite's ANALYZE is not run: nothing in the server runs it.)</summary>
        public Task AfterBulkLoadAsync(CancellationToken ct) => Kind == DbKind.Sqlite
            ? ExecAsync("PRAGMA wal_checkpoint(TRUNCATE);", ct)
            : ExecAsync("VACUUM (ANALYZE) \"Recordings\", \"RecorderJobs\", \"Meetings\";", ct);

        public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
    }

    /// <summary>Multi-row <c>INSERT ... VALUES (...), (...)</c> statements, all in the caller's transaction, each
    /// command built once and re-executed with new values. SQLite gets one row per statement (a prepared statement
    /// re-run in one transaction is its fastest bulk path, and its parameter lookup is linear in their number);
    /// PostgreSQL gets as many rows as fit under its parameter limit (fewer round trips).</summary>
    private sealed class BulkInsert(Db db, DbTransaction tx, string table, List<string> columns) : IAsyncDisposable
    {
        private readonly int _rowsPerStatement = db.Kind == DbKind.Sqlite ? 1 : Math.Clamp(60_000 / columns.Count, 1, 1000);
        private readonly List<object?[]> _pending = [];
        private DbCommand? _full;

        public async Task AddAsync(Dictionary<string, object?> row, CancellationToken ct)
        {
            _pending.Add(columns.Select(c => row.GetValueOrDefault(c)).ToArray());
            if (_pending.Count >= _rowsPerStatement)
            {
                await FlushAsync(ct);
            }
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            if (_pending.Count == 0)
            {
                return;
            }
            var full = _pending.Count == _rowsPerStatement;
            var cmd = full ? _full ??= Create(_rowsPerStatement) : Create(_pending.Count);
            try
            {
                var n = 0;
                foreach (var values in _pending)
                {
                    foreach (var v in values)
                    {
                        cmd.Parameters[n++].Value = v ?? DBNull.Value;
                    }
                }
                await cmd.ExecuteNonQueryAsync(ct);
            }
            finally
            {
                if (!full)
                {
                    await cmd.DisposeAsync();
                }
            }
            _pending.Clear();
        }

        public async ValueTask DisposeAsync()
        {
            if (_full is not null)
            {
                await _full.DisposeAsync();
            }
        }

        private DbCommand Create(int rows)
        {
            var sb = new StringBuilder();
            sb.Append("INSERT INTO \"").Append(table).Append("\" (").AppendJoin(", ", columns.Select(c => $"\"{c}\"")).Append(") VALUES ");
            var n = 0;
            for (var r = 0; r < rows; r++)
            {
                sb.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < columns.Count; c++)
                {
                    sb.Append(c == 0 ? "" : ", ").Append(db.Param(n++));
                }
                sb.Append(')');
            }
            var cmd = db.Connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandTimeout = 600;
            cmd.CommandText = sb.ToString();
            for (var i = 0; i < n; i++)
            {
                db.AddParameter(cmd, i, null);
            }
            return cmd;
        }
    }

    /// <summary>Checks through the API that the seeded rows read back as the server's own.</summary>
    public static async Task CheckAsync(Api api, SeedData seed, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(seed);
        var one = await api.CallAsync(HttpMethod.Get, $"{api.Kit}/recordings/{seed.Recordings[^1]}", ct: ct);
        var status = one.GetProperty("data").GetProperty("status").GetString();
        if (status is not (Uploaded or Errored))
        {
            throw new BenchException($"a seeded recording reads back with status '{status}'");
        }
        var list = await api.CallAsync(HttpMethod.Get, $"{api.Kit}/recordings?status={Uploaded}&per_page=20&page_no=2&sort_order=DESC", ct: ct);
        var totalCount = list.GetProperty("paging").GetProperty("total_count").GetInt64();
        var items = list.GetProperty("data").GetArrayLength();
        if (totalCount != seed.UploadedCount || items != Math.Min(20, Math.Max(0, seed.UploadedCount - 20)))
        {
            throw new BenchException($"the UPLOADED list reads back {items} items of {totalCount}, expected {seed.UploadedCount} in all (the database's count)");
        }
        var byMeeting = await api.CallAsync(HttpMethod.Get, $"{api.Kit}/recordings?meeting_id={seed.Meetings[1 % seed.Meetings.Count]}&per_page=20", ct: ct);
        if (byMeeting.GetProperty("paging").GetProperty("total_count").GetInt64() == 0 && seed.Recordings.Count > seed.Meetings.Count)
        {
            throw new BenchException("the meeting_id list reads back no recording");
        }
        _ = JsonSerializer.Serialize(one); // the detail view deserialized its reasons and config without error
    }
}
