namespace Capstan.Server.Hosting;

/// <summary>Server settings, section <c>Capstan</c> (environment: <c>Capstan__DataDir</c>, ...).</summary>
public sealed class CapstanOptions
{
    public const string Section = "Capstan";

    /// <summary>Data folder: SQLite database, default bucket, keys. Default <c>./.capstan</c>.</summary>
    public string DataDir { get; set; } = Path.GetFullPath(".capstan");

    /// <summary>A PostgreSQL connection string (<c>Host=...</c>); empty means SQLite in the data folder.</summary>
    public string? Database { get; set; }

    /// <summary>Address the server listens on. Default 127.0.0.1.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 8080;

    /// <summary>Base of absolute URLs handed out (download URLs). Default: the listen address.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Base64 AES-256 key for secrets at rest; default: <c>secret.key</c> in the data folder.</summary>
    public string? EncryptionKey { get; set; }

    public TimeSpan ParticipantTokenLifetime { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan SigningKeyRotation { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Largest accepted request body. decisions.md: 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>The operator's token for the deployment-wide extensions (<c>GET /client/v4/system/nodes</c>,
    /// <see cref="Security.OperatorToken"/>): at least 32 characters, at most 512, no spaces. Unset: those routes
    /// answer 403. A secret: never logged.</summary>
    public string? OperatorToken { get; set; }

    public string EffectivePublicBaseUrl => (PublicBaseUrl ?? $"http://{ListenAddress}:{Port}").TrimEnd('/');

    public void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new InvalidOperationException($"Capstan:Port must be 0..65535, got {Port}");
        }
        if (ParticipantTokenLifetime <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Capstan:ParticipantTokenLifetime must be positive");
        }
        if (!string.IsNullOrEmpty(OperatorToken) && (OperatorToken.Length is < Security.OperatorToken.MinLength or > 512 || OperatorToken.Any(char.IsWhiteSpace)))
        {
            // The value itself is not repeated: it is a secret.
            throw new InvalidOperationException($"Capstan:OperatorToken must be {Security.OperatorToken.MinLength} to 512 characters without spaces (got {OperatorToken.Length}); generate one with: openssl rand -hex 32");
        }
        if (PublicBaseUrl is not null && !Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out _))
        {
            throw new InvalidOperationException($"Capstan:PublicBaseUrl must be an absolute URL, got '{PublicBaseUrl}'");
        }
    }
}

/// <summary>Webhook settings, section <c>Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>Allows webhook URLs that point at loopback, private, link-local or metadata addresses.</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>Deliver webhooks from this process (the outbox dispatcher).</summary>
    public bool Deliver { get; set; } = true;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Attempts before a delivery is given up (about a day with the default backoff).</summary>
    public int MaxAttempts { get; set; } = 30;
}
