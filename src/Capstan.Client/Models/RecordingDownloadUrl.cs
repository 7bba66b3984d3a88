using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Client.Models;

/// <summary><c>download_url</c> of a recording: a single signed URL for composite recordings, or, for uploaded
/// TRACK recordings, an array of layers <c>{layer_name, download_urls: {file: {download_url}}}</c>.</summary>
[JsonConverter(typeof(RecordingDownloadUrlConverter))]
public sealed class RecordingDownloadUrl
{
    private RecordingDownloadUrl(string? url, IReadOnlyList<TrackLayerDownloads> layers)
    {
        Url = url;
        Layers = layers;
    }

    /// <summary>The URL of a composite recording; null for layers.</summary>
    public string? Url { get; }

    /// <summary>The layers of a track recording; empty for a composite one.</summary>
    public IReadOnlyList<TrackLayerDownloads> Layers { get; }

    /// <summary>True when this is the layer array of a track recording.</summary>
    public bool IsLayers => Url is null;

    /// <summary>Every file with its URL: the one composite file (named by <paramref name="compositeFileName"/>), or
    /// each file of each layer.</summary>
    public IEnumerable<(string FileName, string Url)> Files(string compositeFileName = "recording")
    {
        if (Url is not null)
        {
            return [(compositeFileName, Url)];
        }
        return Layers.SelectMany(l => l.DownloadUrls.Select(f => (f.Key, f.Value.DownloadUrl)));
    }

    /// <summary>A composite recording's URL.</summary>
    public static RecordingDownloadUrl FromUrl(string url) => new(url ?? throw new ArgumentNullException(nameof(url)), []);

    /// <summary>A track recording's layers.</summary>
    public static RecordingDownloadUrl FromLayers(IReadOnlyList<TrackLayerDownloads> layers) => new(null, layers ?? throw new ArgumentNullException(nameof(layers)));

    /// <inheritdoc />
    public override string ToString() => Url ?? string.Join(' ', Files().Select(f => f.Url));
}

/// <summary>One layer of an uploaded track recording.</summary>
public sealed class TrackLayerDownloads
{
    /// <summary>The layer's name (e.g. <c>default</c>).</summary>
    public required string LayerName { get; init; }

    /// <summary>Each file of the layer by file name.</summary>
    public IReadOnlyDictionary<string, TrackFileDownload> DownloadUrls { get; init; } = new Dictionary<string, TrackFileDownload>();
}

/// <summary>A file of a track layer.</summary>
public sealed class TrackFileDownload
{
    /// <summary>The signed URL.</summary>
    public required string DownloadUrl { get; init; }
}

/// <summary>Reads either shape of <c>download_url</c> and writes it back unchanged.</summary>
internal sealed class RecordingDownloadUrlConverter : JsonConverter<RecordingDownloadUrl>
{
    public override RecordingDownloadUrl? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => RecordingDownloadUrl.FromUrl(reader.GetString()!),
        JsonTokenType.StartArray => RecordingDownloadUrl.FromLayers(JsonSerializer.Deserialize<List<TrackLayerDownloads>>(ref reader, options) ?? []),
        _ => throw new JsonException($"download_url must be a string or an array of layers, got {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, RecordingDownloadUrl value, JsonSerializerOptions options)
    {
        if (value.Url is not null)
        {
            writer.WriteStringValue(value.Url);
        }
        else
        {
            JsonSerializer.Serialize(writer, value.Layers, options);
        }
    }
}
