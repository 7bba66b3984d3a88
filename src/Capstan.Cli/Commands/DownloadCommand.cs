using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Client;
using Capstan.Client.Models;
using Spectre.Console;

namespace Capstan.Cli.Commands;

/// <summary><c>recordings download ID</c>: fetches the file(s) of an UPLOADED recording with a progress bar, checks
/// the SHA-256 the server published, and writes through a <c>.part</c> file so a broken transfer leaves nothing
/// under the real name.</summary>
internal static class DownloadCommand
{
    public static Command Build(CliEnvironment env)
    {
        var download = new Command("download", "Download an UPLOADED recording's file (or a track recording's files)");
        var id = new Argument<string>("RECORDING_ID") { Description = "The recording" };
        var file = new Option<string?>("--file", "-f") { Description = "Where to write (default: the recording's file name, in --dir)" };
        var dir = new Option<string?>("--dir") { Description = "Folder to write into (default: the current one)" };
        var audio = new Option<bool>("--audio") { Description = "The separate audio file instead of the video" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var wait = new Option<bool>("--wait") { Description = "Wait until the recording is UPLOADED first" };
        download.Add(id);
        download.Add(file);
        download.Add(dir);
        download.Add(audio);
        download.Add(force);
        download.Add(wait);
        download.SetHandler(env, async (c, parse, ct) =>
        {
            var recordingId = parse.GetValue(id)!;
            var r = await c.Client.RealtimeKit.Recordings.GetOneRecordingAsync(c.AppId, recordingId, ct);
            if (r.IsInProgress && parse.GetValue(wait))
            {
                var (code, last) = await WaitCommand.RunAsync(c, recordingId, null, TimeSpan.FromSeconds(1), ct);
                if (code != ExitCodes.Ok)
                {
                    return code;
                }
                r = last ?? r;
            }
            if (r.Status == RecordingStatus.Errored)
            {
                await c.Env.Error.WriteLineAsync($"error: the recording ended ERRORED, there is no file: {r.ErrorMessage ?? "no reason given"}");
                return ExitCodes.RecordingErrored;
            }
            if (r.Status != RecordingStatus.Uploaded)
            {
                await c.Env.Error.WriteLineAsync($"error: the recording is {r.Status}, not UPLOADED yet: run `capstan rtk recordings wait {r.Id}`, or pass --wait");
                return ExitCodes.Refused;
            }
            var folder = Path.GetFullPath(parse.GetValue(dir) ?? ".", c.Env.WorkingDirectory);
            var files = Plan(r, parse.GetValue(audio), parse.GetValue(file), folder);
            if (files.Count == 0)
            {
                await c.Env.Error.WriteLineAsync("error: the recording has no download URL for that file (default bucket disabled, or no such file)");
                return ExitCodes.NotFound;
            }
            var existing = files.FirstOrDefault(f => File.Exists(f.Path));
            if (existing is not null && !parse.GetValue(force))
            {
                await c.Env.Error.WriteLineAsync($"error: {existing.Path} exists; pass --force to overwrite it");
                return ExitCodes.Usage;
            }
            var results = new List<Downloaded>();
            foreach (var f in files)
            {
                var (bytes, sha) = await FetchAsync(c, f.Url, f.Path, ct);
                if (f.Sha256 is not null && !string.Equals(f.Sha256, sha, StringComparison.OrdinalIgnoreCase))
                {
                    File.Delete(f.Path);
                    await c.Env.Error.WriteLineAsync($"error: {f.Path}: SHA-256 {sha} does not match the recording's {f.Sha256}; the file was removed");
                    return ExitCodes.Server;
                }
                results.Add(new Downloaded(f.Path, bytes, sha, f.Sha256 is not null));
            }
            Report(c.Output, results);
            return ExitCodes.Ok;
        });
        return download;
    }

    private sealed record Target(string Url, string Path, string? Sha256);

    private sealed record Downloaded(string Path, long Bytes, string Sha256, bool Verified);

    private static List<Target> Plan(Recording r, bool audio, string? file, string folder)
    {
        if (audio)
        {
            return r.AudioDownloadUrl is { } a ? [new Target(a, PathFor(file, folder, FileNameOf(a)), r.AudioSha256)] : [];
        }
        if (r.DownloadUrl is not { } url)
        {
            return [];
        }
        if (!url.IsLayers)
        {
            return [new Target(url.Url!, PathFor(file, folder, r.OutputFileName ?? FileNameOf(url.Url!)), r.Sha256)];
        }
        // Track recording: one file per recorded peer, named by the server.
        return url.Files().Select(f => new Target(f.Url, Path.Combine(folder, Path.GetFileName(f.FileName)), null)).ToList();
    }

    private static string PathFor(string? file, string folder, string name) =>
        file is not null ? Path.GetFullPath(file, folder) : Path.Combine(folder, Path.GetFileName(name));

    private static string FileNameOf(string url) => Uri.UnescapeDataString(new Uri(url).Segments[^1]);

    private static async Task<(long Bytes, string Sha256)> FetchAsync(CliContext c, string url, string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var part = path + ".part";
        try
        {
            long bytes;
            await using (var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                bytes = await WithProgressAsync(c, Path.GetFileName(path), p => c.Client.RealtimeKit.Recordings.DownloadAsync(url, output, p, ct));
            }
            File.Move(part, path, overwrite: true);
            await using var read = File.OpenRead(path);
            return (bytes, Convert.ToHexStringLower(await SHA256.HashDataAsync(read, ct)));
        }
        finally
        {
            File.Delete(part);
        }
    }

    /// <summary>A progress bar on a terminal; otherwise a plain line at the start, at every quarter and at the end.</summary>
    private static async Task<long> WithProgressAsync(CliContext c, string name, Func<IProgress<DownloadProgress>, Task<long>> download)
    {
        var o = c.Output;
        if (o.StatusIsTerminal)
        {
            long result = 0;
            await o.Status.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(name), autoStart: true);
                    result = await download(new Inline(p =>
                    {
                        if (p.TotalBytes is { } total)
                        {
                            task.MaxValue = Math.Max(total, 1);
                        }
                        else
                        {
                            task.IsIndeterminate = true;
                        }
                        task.Value = p.BytesReceived;
                    }));
                    task.Value = task.MaxValue;
                    task.StopTask();
                });
            return result;
        }
        var quarter = -1;
        return await download(new Inline(p =>
        {
            var q = p.TotalBytes is { } t && t > 0 ? (int)(p.BytesReceived * 4 / t) : 0;
            if (q > quarter)
            {
                quarter = q;
                o.Status.WriteLine($"{name}: {q * 25}% ({Output.Bytes(p.BytesReceived)} of {Output.Bytes(p.TotalBytes)})");
            }
        }));
    }

    private static void Report(Output o, List<Downloaded> results)
    {
        switch (o.Format)
        {
            case OutputFormat.Json:
                o.Env.Out.WriteLine(JsonSerializer.Serialize(results.Select(r => new { path = r.Path, bytes = r.Bytes, sha256 = r.Sha256, verified = r.Verified }),
                    new JsonSerializerOptions(ClientJson.Options) { WriteIndented = true }));
                break;
            case OutputFormat.Id:
                results.ForEach(r => o.Env.Out.WriteLine(r.Path));
                break;
            default:
                foreach (var r in results)
                {
                    o.Console.MarkupLine($"[green]saved[/] {Markup.Escape(r.Path)} ({Output.Bytes(r.Bytes)}, sha256 {(r.Verified ? "verified" : r.Sha256[..12] + "…")})");
                }
                break;
        }
    }

    private sealed class Inline(Action<DownloadProgress> action) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => action(value);
    }
}
