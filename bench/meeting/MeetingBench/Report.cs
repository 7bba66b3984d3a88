using System.Globalization;
using System.Text;

namespace Capstan.Bench.Meeting;

/// <summary>The figures as text: one line per scenario as it ends, and the table at the end.</summary>
public static class Report
{
    private static readonly string[] Headers =
    [
        "scenario", "seconds", "server CPU %", "server RSS avg/peak MB", "Janus CPU %", "Janus RSS avg/peak MB",
        "browsers CPU %", "first remote frame p50/max ms", "joined p50/max ms", "min recv fps", "load 1m",
    ];

    public static string Line(ScenarioResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"   measured {r.Seconds:0.0} s: server {r.ServerCpuPercent:0.0}% CPU, RSS {r.ServerRssAvgMb:0.0}/{r.ServerRssPeakMb:0.0} MB; ");
        sb.Append(CultureInfo.InvariantCulture, $"Janus {r.JanusCpuPercent:0.0}% CPU, RSS {r.JanusRssAvgMb:0.0}/{r.JanusRssPeakMb:0.0} MB; ");
        sb.Append(CultureInfo.InvariantCulture, $"browsers {r.BrowsersCpuPercent:0.0}% CPU ({r.BrowserProcesses} processes)");
        foreach (var p in r.Pages)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n   {p.Name}: joined {Ms(p.JoinedMs)} ms, first remote frame {Ms(p.FirstRemoteFrameMs)} ms, slowest remote video {p.MinDecodeFps:0.0} fps decoded");
        }
        if (r.Note is not null)
        {
            sb.Append("\n   note: ").Append(r.Note);
        }
        return sb.ToString();
    }

    public static string Table(IReadOnlyList<ScenarioResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var rows = results.Select(r => new[]
        {
            $"{r.Participants} participants",
            F(r.Seconds, "0.0"),
            F(r.ServerCpuPercent, "0.0"),
            F(r.ServerRssAvgMb, "0.0") + " / " + F(r.ServerRssPeakMb, "0.0"),
            F(r.JanusCpuPercent, "0.0"),
            F(r.JanusRssAvgMb, "0.0") + " / " + F(r.JanusRssPeakMb, "0.0"),
            F(r.BrowsersCpuPercent, "0.0"),
            Ms(r.FirstFrameP50) + " / " + Ms(r.FirstFrameMax),
            Ms(r.JoinedP50) + " / " + Ms(r.JoinedMax),
            F(r.MinDecodeFps, "0.0"),
            F(r.LoadAverage, "0.00"),
        }).ToList();
        var widths = Headers.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", Headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        sb.AppendLine("|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (var r in rows)
        {
            sb.AppendLine("| " + string.Join(" | ", r.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |");
        }
        sb.Append("CPU: share of one core over the window (100% = one core busy), from utime+stime in /proc/PID/stat. ");
        sb.Append("RSS: VmRSS sampled once a second. browsers: every Chromium process (all pages). ");
        sb.Append("first remote frame / joined: capstanState.firstRemoteFrameMs / joinedMs, ms from the page script's start, over the pages (all loaded at once). ");
        sb.Append("min recv fps: the slowest remote video any page decoded during the window. load 1m: the machine's load average at the end.");
        return sb.ToString();
    }

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Ms(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Ms(long? v) => v is { } x ? x.ToString(CultureInfo.InvariantCulture) : "-";
}
