using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Security;

namespace Capstan.Server.Domain;

/// <summary>Validation and at-rest protection of <c>storage_config</c>.</summary>
public static partial class StorageConfigs
{
    public static readonly IReadOnlyList<string> Types = ["aws", "azure", "digitalocean", "gcs", "sftp"];
    public static readonly IReadOnlyList<string> AuthMethods = ["KEY", "PASSWORD"];

    /// <summary>Validates per type (decisions.md: <c>type</c> required; <c>cloudflare</c> only as an alias of an
    /// S3-compatible endpoint that the operator configured under <c>Storage:Endpoints:cloudflare</c>).</summary>
    public static void Validate(StorageConfig? config, string field, Validation v, IReadOnlySet<string> aliasTypes)
    {
        if (config is null)
        {
            return;
        }
        if (string.IsNullOrWhiteSpace(config.Type))
        {
            v.Add($"{field}.type is required");
            return;
        }
        if (!Types.Contains(config.Type) && !aliasTypes.Contains(config.Type))
        {
            v.Add(config.Type == "cloudflare"
                ? $"{field}.type 'cloudflare' needs an S3-compatible endpoint: the operator sets Storage:Endpoints:cloudflare"
                : $"{field}.type must be one of {string.Join(", ", Types.Select(t => $"'{t}'"))}, got '{Ids.Trim(config.Type)}'");
            return;
        }
        v.MaxLength(config.Bucket, 255, $"{field}.bucket");
        v.MaxLength(config.Region, 64, $"{field}.region");
        v.MaxLength(config.Path, 1024, $"{field}.path");
        v.MaxLength(config.AccessKey, 4096, $"{field}.access_key");
        v.MaxLength(config.Secret, 16384, $"{field}.secret");
        v.MaxLength(config.Password, 1024, $"{field}.password");
        v.MaxLength(config.PrivateKey, 16384, $"{field}.private_key");
        v.MaxLength(config.Username, 256, $"{field}.username");
        v.MaxLength(config.Host, 255, $"{field}.host");
        if (config.Path is { } path && (path.Split('/', '\\').Contains("..") || path.Contains('\0', StringComparison.Ordinal)))
        {
            v.Add($"{field}.path must not contain '..' segments");
        }
        switch (config.Type)
        {
            case "aws" or "digitalocean":
                v.Required(config.AccessKey, $"{field}.access_key");
                v.Required(config.Secret, $"{field}.secret");
                v.Required(config.Bucket, $"{field}.bucket");
                v.Required(config.Region, $"{field}.region");
                if (config.Region is { Length: > 0 } region && !RegionPattern().IsMatch(region))
                {
                    // The region becomes part of the endpoint's host name (s3.{region}.amazonaws.com,
                    // {region}.digitaloceanspaces.com): nothing but a region name may reach it.
                    v.Add($"{field}.region must be a region name (letters, digits and '-'), got '{Ids.Trim(region)}'");
                }
                break;
            case "azure":
                v.Required(config.AccessKey, $"{field}.access_key (the Azure connection string)");
                v.Required(config.Bucket, $"{field}.bucket (the container)");
                break;
            case "gcs":
                v.Required(config.Bucket, $"{field}.bucket");
                v.Required(config.Secret, $"{field}.secret (the service-account JSON)");
                if (!string.IsNullOrWhiteSpace(config.Secret) && !IsJsonObject(config.Secret))
                {
                    v.Add($"{field}.secret must be the service-account credentials JSON");
                }
                break;
            case "sftp":
                v.Required(config.Host, $"{field}.host");
                v.Required(config.Username, $"{field}.username");
                v.Range(config.Port, 1, 65535, $"{field}.port");
                if (config.AuthMethod is null)
                {
                    v.Add($"{field}.auth_method is required for sftp ('KEY' or 'PASSWORD')");
                }
                v.OneOf(config.AuthMethod, AuthMethods, $"{field}.auth_method");
                if (config.AuthMethod == "PASSWORD")
                {
                    v.Required(config.Password, $"{field}.password");
                }
                if (config.AuthMethod == "KEY")
                {
                    v.Required(config.PrivateKey, $"{field}.private_key");
                }
                break;
            default:
                // An alias type is S3-compatible.
                v.Required(config.AccessKey, $"{field}.access_key");
                v.Required(config.Secret, $"{field}.secret");
                v.Required(config.Bucket, $"{field}.bucket");
                break;
        }
    }

    /// <summary>The stored form: public fields in clear, the secrets as one encrypted blob.</summary>
    public static StoredStorageConfig Protect(StorageConfig config, SecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(protector);
        var secrets = new StorageSecrets(config.AccessKey, config.Secret, config.Password, config.PrivateKey);
        return new StoredStorageConfig
        {
            Public = config.WithoutSecrets(),
            ProtectedSecrets = protector.Protect(JsonSerializer.Serialize(secrets, CapstanJson.Options)),
        };
    }

    /// <summary>Back to a full config with secrets, for the uploader.</summary>
    public static StorageConfig Unprotect(StoredStorageConfig stored, SecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(protector);
        var s = JsonSerializer.Deserialize<StorageSecrets>(protector.Unprotect(stored.ProtectedSecrets), CapstanJson.Options)!;
        var full = stored.Public.WithoutSecrets();
        full.AccessKey = s.AccessKey;
        full.Secret = s.Secret;
        full.Password = s.Password;
        full.PrivateKey = s.PrivateKey;
        return full;
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9-]{1,64}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex RegionPattern();

    private sealed record StorageSecrets(string? AccessKey, string? Secret, string? Password, string? PrivateKey);
}

/// <summary>A storage destination as stored: <see cref="Public"/> has no secrets.</summary>
public sealed class StoredStorageConfig
{
    public required StorageConfig Public { get; init; }
    public required string ProtectedSecrets { get; init; }
}
