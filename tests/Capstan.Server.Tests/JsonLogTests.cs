using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Server.Hosting;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary><c>Logging:Format=json</c> on a real <c>capstan serve</c> process: every line of standard output is one
/// JSON object, and a recording's lines carry its recording, meeting and job ids in their scopes. The recorder is on
/// with tools that do not exist, so its session fails at once, logging inside the recording's scope.</summary>
public sealed class JsonLogTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task JsonFormat_GivesOneObjectPerLine_AndRecordingLinesCarryRecordingMeetingAndJobIds()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-jsonlog-" + Guid.NewGuid().ToString("N"));
        var account = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var app = Guid.NewGuid();
        var token = "cap_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        var port = new Uri(WebhookReceiver.FreeUrl()).Port;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { typeof(CapstanHost).Assembly.Location, "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dir })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["Logging__Format"] = "json";
        psi.Environment["Logging__LogLevel__Default"] = "Information";
        psi.Environment["Janus__Enabled"] = "false";
        psi.Environment["Recorder__Slots"] = "1";
        psi.Environment["Recorder__Chromium"] = "/nonexistent/chromium";
        psi.Environment["Recorder__Xvfb"] = "/nonexistent/Xvfb";
        psi.Environment["Recorder__PulseAudio"] = "/nonexistent/pulseaudio";
        psi.Environment["CAPSTAN_BOOTSTRAP_ACCOUNT_ID"] = account;
        psi.Environment["CAPSTAN_BOOTSTRAP_APP_ID"] = app.ToString();
        psi.Environment["CAPSTAN_BOOTSTRAP_TOKEN"] = token;
        var lines = new ConcurrentQueue<string>();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                lines.Enqueue(line);
            }
        };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            using var c = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            await MetricsTests.UntilAsync(async () =>
            {
                Assert.False(p.HasExited, "the server exited: " + string.Join('\n', lines));
                try
                {
                    return (await c.GetAsync("/healthz", Ct)).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the server to listen", 60);
            var path = $"/client/v4/accounts/{account}/realtime/kit/{app}";
            var meeting = (await c.PostJsonAsync($"{path}/meetings", new { title = "logged" })).Data(HttpStatusCode.Created).Str("id");
            var recording = (await c.PostJsonAsync($"{path}/recordings", new { meeting_id = meeting })).Data().Str("id");

            JsonElement? scoped = null;
            await MetricsTests.UntilAsync(() =>
            {
                scoped = lines.Select(l => (JsonElement?)Parse(l)).FirstOrDefault(l => ScopeValue(l!.Value, "RecordingId") == recording);
                return Task.FromResult(scoped is not null);
            }, "a log line in the recording's scope", 30, () => string.Join('\n', lines.TakeLast(20)));
            Assert.Equal(meeting, ScopeValue(scoped!.Value, "MeetingId"));
            Assert.True(Guid.TryParse(ScopeValue(scoped.Value, "JobId"), out _), scoped.Value.ToString());
            Assert.True(scoped.Value.TryGetProperty("Timestamp", out _));
            Assert.True(scoped.Value.TryGetProperty("Category", out _));
            // Every line is one JSON object (Parse throws otherwise).
            Assert.All(lines, l => Parse(l));
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync(CancellationToken.None);
            }
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // gone already
            }
        }
    }

    private static JsonElement Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        return doc.RootElement.Clone();
    }

    private static string? ScopeValue(JsonElement line, string key)
    {
        if (!line.TryGetProperty("Scopes", out var scopes) || scopes.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        foreach (var scope in scopes.EnumerateArray())
        {
            if (scope.ValueKind == JsonValueKind.Object && scope.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
            {
                return v.GetString();
            }
        }
        return null;
    }
}
