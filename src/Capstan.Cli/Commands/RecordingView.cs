using Capstan.Client.Models;

namespace Capstan.Cli.Commands;

internal static class RecordingView
{
    public static void Show(Output o, Recording r) => o.Item(r, r.Id, Rows(r));

    public static IEnumerable<(string, string?)> Rows(Recording r)
    {
        yield return ("id", r.Id);
        yield return ("status", r.Status);
        if (r.Type is not null)
        {
            yield return ("type", r.Type);
        }
        yield return ("meeting", r.MeetingId ?? r.Meeting?.Id);
        yield return ("file", r.OutputFileName);
        yield return ("invoked", Output.Time(r.InvokedTime));
        yield return ("started", Output.Time(r.StartedTime));
        yield return ("stopped", Output.Time(r.StoppedTime));
        yield return ("duration", r.RecordingDuration is { } d ? Output.Duration(TimeSpan.FromSeconds(d)) : null);
        yield return ("size", Output.Bytes(r.FileSize));
        if (r.DownloadUrl is { } url)
        {
            foreach (var (file, link) in url.Files(r.OutputFileName ?? "recording"))
            {
                yield return (url.IsLayers ? $"download {file}" : "download", link);
            }
            yield return ("expires", Output.Time(r.DownloadUrlExpiry));
        }
        if (r.AudioDownloadUrl is not null)
        {
            yield return ("audio download", r.AudioDownloadUrl);
        }
        if (r.Sha256 is not null)
        {
            yield return ("sha256", r.Sha256);
        }
        if (r.StopReason is { } stop)
        {
            yield return ("stop reason", stop.Caller?.Type is { } by ? $"{stop.Reason} ({by})" : stop.Reason);
        }
        if (r.ErrorMessage is not null)
        {
            yield return ("error", r.ErrorMessage);
        }
    }

    public static string?[] Row(Recording r) =>
    [
        r.Id, r.Status, r.Meeting?.Title ?? r.Meeting?.Id ?? r.MeetingId, Output.Time(r.InvokedTime),
        r.RecordingDuration is { } d ? Output.Duration(TimeSpan.FromSeconds(d)) : null, Output.Bytes(r.FileSize), r.OutputFileName,
    ];

    public static readonly string[] Columns = ["ID", "STATUS", "MEETING", "INVOKED", "DURATION", "SIZE", "FILE"];
}
