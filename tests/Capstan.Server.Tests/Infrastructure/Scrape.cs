using System.Globalization;
using System.Net.Http.Headers;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>A Prometheus text scrape, read by metric name and labels.</summary>
public sealed class Scrape(string text)
{
    public string Text { get; } = text;

    public static async Task<Scrape> GetAsync(Uri baseUrl, string? token)
    {
        using var c = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await c.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"scrape answered {(int)response.StatusCode}: {body}");
        return new Scrape(body);
    }

    /// <summary>Metric names that have at least one sample.</summary>
    public IReadOnlySet<string> Names => Text.Split('\n').Where(l => l.Length > 0 && l[0] != '#')
        .Select(l => l[..l.IndexOfAny(['{', ' '])]).ToHashSet(StringComparer.Ordinal);

    /// <summary>The sum of the samples (a label value ending in <c>*</c> matches by prefix) of <paramref name="name"/> whose labels include every pair (0 when none).</summary>
    public double Value(string name, params (string Key, string Value)[] labels) =>
        Samples(name, labels).Sum();

    public bool Has(string name, params (string Key, string Value)[] labels) => Samples(name, labels).Any();

    private IEnumerable<double> Samples(string name, (string Key, string Value)[] labels)
    {
        foreach (var line in Text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            // name{labels} value [timestamp]; label values may hold braces (http_route), so the set ends at the last '}'.
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var labelled = brace >= 0 && brace < space;
            if (line[..(labelled ? brace : space)] != name)
            {
                continue;
            }
            var close = labelled ? line.LastIndexOf('}') : space;
            var labelText = labelled ? line[(brace + 1)..close] : string.Empty;
            // A value ending in '*' matches by prefix.
            if (!labels.All(l => labelText.Contains(l.Value.EndsWith('*') ? $"{l.Key}=\"{l.Value[..^1]}" : $"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                continue;
            }
            var rest = line[(labelled ? close + 1 : space)..].Trim().Split(' ');
            yield return double.Parse(rest[0], CultureInfo.InvariantCulture);
        }
    }
}
