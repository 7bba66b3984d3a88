using Capstan.Contracts;
using Capstan.Server.Security;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Domain;

/// <summary>The outbound policy at the request: checks every address a request (or a stored meeting/app config
/// about to be used) would make Capstan connect to, and adds a 400 message naming the field and the reason to
/// <see cref="Validation"/>. Runs after the field validation, so only well-formed values reach it; nothing is
/// stored when it refuses. The same addresses are checked again at connect time (<see cref="OutboundPolicy"/>).
/// <list type="bullet">
/// <item>URLs (<c>url</c>, <c>video_config.watermark.url</c>, <c>rtmp_out_config.rtmp_url</c>, webhook <c>url</c>):
/// their host.</item>
/// <item><c>storage_config</c>: the SFTP <c>host</c>; for Azure the blob endpoint of the connection string in
/// <c>access_key</c> (<c>BlobEndpoint=</c>, <c>EndpointSuffix=</c>, <c>UseDevelopmentStorage</c>) unless the operator
/// set <c>Storage:Endpoints:azure</c>. S3 endpoints come from the region (checked for its form by
/// <see cref="StorageConfigs"/>) or from the operator; GCS always goes to Google's endpoint or the operator's.</item>
/// </list></summary>
public sealed class OutboundTargets(OutboundPolicy policy, IOptions<Storage.StorageOptions> storage)
{
    public async Task UrlAsync(string? url, string field, Validation v, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            return;
        }
        await HostAsync(uri.IdnHost, field, v, ct);
    }

    public async Task HostAsync(string? host, string field, Validation v, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (string.IsNullOrWhiteSpace(host))
        {
            return;
        }
        if (await policy.CheckHostAsync(host, ct) is { } reason)
        {
            v.Add($"{field} is refused: {reason} ({policy.Refusal})");
        }
    }

    public async Task StorageAsync(StorageConfig? config, string field, Validation v, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (config is null || storage.Value.Endpoints.ContainsKey(config.Type ?? string.Empty))
        {
            return; // the operator's endpoint is trusted
        }
        switch (config.Type)
        {
            case "sftp":
                await HostAsync(config.Host, $"{field}.host", v, ct);
                break;
            case "azure" when AzureBlobHost(config.AccessKey) is { } host:
                await HostAsync(host, $"{field}.access_key (the connection string's blob endpoint)", v, ct);
                break;
        }
    }

    /// <summary>The effective config's targets that did not come from the request itself (the meeting's or the
    /// app's <c>recording_config</c>), so a stored config cannot lead somewhere the policy now refuses.</summary>
    public async Task InheritedAsync(StartRecordingRequest request, EffectiveRecordingConfig config, SecretProtector protector, Validation v, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(config);
        if (request.VideoConfig?.Watermark is null)
        {
            await UrlAsync(config.Watermark?.Url, "recording_config.video_config.watermark.url (meeting or app)", v, ct);
        }
        if (request.RtmpOutConfig?.RtmpUrl is null)
        {
            await UrlAsync(config.RtmpUrl, "recording_config.live_streaming_config.rtmp_url (meeting or app)", v, ct);
        }
        if (request.StorageConfig is null && config.Storage is { } stored)
        {
            await StorageAsync(StorageConfigs.Unprotect(stored, protector), "recording_config.storage_config (meeting or app)", v, ct);
        }
    }

    /// <summary>The host an Azure connection string points the blob client at, or null if it is not one.</summary>
    public static string? AzureBlobHost(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }
        try
        {
            return new Azure.Storage.Blobs.BlobServiceClient(connectionString.Trim()).Uri.Host;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or UriFormatException)
        {
            return null; // not a connection string: the destination refuses it when delivering
        }
    }
}
