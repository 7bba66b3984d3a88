using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>Small helpers: send JSON, read the envelope as a JsonNode.</summary>
public static class Http
{
    public static async Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> SendAsync(
        this HttpClient client, HttpMethod method, string path, object? body = null, string? rawBody = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (rawBody is not null)
        {
            request.Content = new StringContent(rawBody, Encoding.UTF8);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType());
        }
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        JsonNode node;
        try
        {
            node = JsonNode.Parse(text) ?? new JsonObject();
        }
        catch (JsonException)
        {
            node = new JsonObject { ["raw"] = text };
        }
        return (response.StatusCode, node, response);
    }

    public static Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> GetJsonAsync(this HttpClient client, string path) =>
        client.SendAsync(HttpMethod.Get, path);

    public static Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> PostJsonAsync(this HttpClient client, string path, object? body) =>
        client.SendAsync(HttpMethod.Post, path, body ?? new { });

    public static Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> PutJsonAsync(this HttpClient client, string path, object body) =>
        client.SendAsync(HttpMethod.Put, path, body);

    public static Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> PatchJsonAsync(this HttpClient client, string path, object body) =>
        client.SendAsync(HttpMethod.Patch, path, body);

    /// <summary>Asserts the status and returns <c>data</c> of a success envelope.</summary>
    public static JsonNode Data(this (HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response) r, HttpStatusCode expected = HttpStatusCode.OK)
    {
        Assert.True(r.Status == expected, $"expected {(int)expected}, got {(int)r.Status}: {r.Body.ToJsonString()}");
        Assert.True(r.Body["success"]!.GetValue<bool>(), r.Body.ToJsonString());
        return r.Body["data"]!;
    }

    /// <summary>Asserts an error envelope with the given status whose message contains each fragment.</summary>
    public static string Error(this (HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response) r, HttpStatusCode expected, params string[] fragments)
    {
        Assert.True(r.Status == expected, $"expected {(int)expected}, got {(int)r.Status}: {r.Body.ToJsonString()}");
        Assert.False(r.Body["success"]!.GetValue<bool>());
        Assert.Equal((int)expected, r.Body["error"]!["code"]!.GetValue<int>());
        var message = r.Body["error"]!["message"]!.GetValue<string>();
        foreach (var f in fragments)
        {
            Assert.Contains(f, message, StringComparison.Ordinal);
        }
        return message;
    }

    public static string Str(this JsonNode node, string name) => node[name]!.GetValue<string>();
}
