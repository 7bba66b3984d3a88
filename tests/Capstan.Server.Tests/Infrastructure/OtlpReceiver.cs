using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>An OTLP/HTTP (protobuf) trace receiver on a loopback Kestrel port: decodes every
/// <c>ExportTraceServiceRequest</c> POSTed to <c>/v1/traces</c> into spans (name, ids, string and number attributes) with a
/// small protobuf reader (the OTLP .proto types are not a package here).</summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<Span> Spans { get; } = new();

    public Uri Endpoint { get; private set; } = null!;

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            foreach (var span in Decode(body.ToArray()))
            {
                receiver.Spans.Enqueue(span);
            }
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public sealed record Span(string Name, string TraceId, string SpanId, string ParentSpanId, IReadOnlyDictionary<string, string> Attributes);

    // ExportTraceServiceRequest.resource_spans = 1; ResourceSpans.scope_spans = 2; ScopeSpans.spans = 2;
    // Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, attributes = 9 (KeyValue: key = 1, value = 2
    // (AnyValue: string_value = 1, int_value = 3)).
    private static IEnumerable<Span> Decode(byte[] request)
    {
        foreach (var resourceSpans in Fields(request, 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var kv in Fields(span, 9))
                    {
                        var key = Encoding.UTF8.GetString(Fields(kv, 1).FirstOrDefault() ?? []);
                        var any = Fields(kv, 2).FirstOrDefault() ?? [];
                        if (Fields(any, 1).FirstOrDefault() is { } str)
                        {
                            attributes[key] = Encoding.UTF8.GetString(str);
                        }
                        else if (Number(any) is { } number)
                        {
                            attributes[key] = number;
                        }
                    }
                    yield return new Span(
                        Encoding.UTF8.GetString(Fields(span, 5).FirstOrDefault() ?? []),
                        Convert.ToHexStringLower(Fields(span, 1).FirstOrDefault() ?? []),
                        Convert.ToHexStringLower(Fields(span, 2).FirstOrDefault() ?? []),
                        Convert.ToHexStringLower(Fields(span, 4).FirstOrDefault() ?? []),
                        attributes);
                }
            }
        }
    }

    /// <summary>An AnyValue's int_value (3, varint) or double_value (4, fixed64) as invariant text, or null.</summary>
    private static string? Number(byte[] any)
    {
        var i = 0;
        while (i < any.Length)
        {
            var tag = Varint(any, ref i);
            var (field, wire) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wire)
            {
                case 0:
                    var v = Varint(any, ref i);
                    if (field == 3)
                    {
                        return ((long)v).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }
                    break;
                case 1:
                    if (field == 4)
                    {
                        return BitConverter.ToDouble(any, i).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                    }
                    i += 8;
                    break;
                case 2:
                    i += (int)Varint(any, ref i);
                    break;
                case 5:
                    i += 4;
                    break;
                default:
                    return null;
            }
        }
        return null;
    }

    /// <summary>The length-delimited fields numbered <paramref name="number"/> of one message; others are skipped.</summary>
    private static List<byte[]> Fields(byte[] message, int number)
    {
        var found = new List<byte[]>();
        var i = 0;
        while (i < message.Length)
        {
            var tag = Varint(message, ref i);
            var (field, wire) = ((int)(tag >> 3), (int)(tag & 7));
            switch (wire)
            {
                case 0:
                    Varint(message, ref i);
                    break;
                case 1:
                    i += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref i);
                    if (field == number)
                    {
                        found.Add(message[i..(i + length)]);
                    }
                    i += length;
                    break;
                case 5:
                    i += 4;
                    break;
                default:
                    throw new InvalidDataException($"unsupported protobuf wire type {wire}");
            }
        }
        return found;
    }

    private static ulong Varint(byte[] b, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var x = b[i++];
            value |= (ulong)(x & 0x7f) << shift;
            if ((x & 0x80) == 0)
            {
                return value;
            }
        }
    }
}
