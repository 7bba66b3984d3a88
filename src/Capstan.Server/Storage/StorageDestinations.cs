using Capstan.Contracts;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Storage;

/// <summary>Makes destinations of some <c>storage_config</c> types. Every implementation in this assembly is
/// found at start-up (one file per destination type).</summary>
public interface IStorageDestinationFactory
{
    /// <summary>The types this factory serves (for example <c>aws</c> and <c>digitalocean</c>).</summary>
    IReadOnlyList<string> Types { get; }

    /// <summary>A destination for <paramref name="config"/> (with secrets). <paramref name="endpoint"/> is the
    /// operator's override for the type, or null.</summary>
    IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options);

    /// <summary>As <see cref="Create(StorageConfig, string?, StorageOptions)"/>, connecting only through
    /// <paramref name="guard"/> (the outbound policy) when it is set: the destination came from a request and no
    /// operator endpoint replaces its address. Types whose address a request cannot choose ignore it.</summary>
    IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options, Security.OutboundPolicy? guard) =>
        Create(config, endpoint, options);
}

/// <summary>Creates the destination for a <c>storage_config</c> (with its secrets), applying the operator's
/// endpoint overrides. decisions.md: a type outside the contract's five is an alias of an S3-compatible endpoint
/// the operator configured (<c>Storage:Endpoints:{type}</c>).</summary>
public sealed class StorageDestinations
{
    private readonly Dictionary<string, IStorageDestinationFactory> _factories;

    private readonly Security.OutboundPolicy? _policy;

    /// <param name="policy">The outbound policy applied at connect time to destinations without an operator
    /// endpoint (the server passes it; tools and tests that build destinations for their own servers need not).</param>
    public StorageDestinations(IOptions<StorageOptions> options, Security.OutboundPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        _policy = policy;
        _factories = typeof(StorageDestinations).Assembly.GetTypes()
            .Where(t => typeof(IStorageDestinationFactory).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
            .Select(t => (IStorageDestinationFactory)Activator.CreateInstance(t)!)
            .SelectMany(f => f.Types.Select(type => (type, f)))
            .ToDictionary(x => x.type, x => x.f, StringComparer.Ordinal);
    }

    public StorageOptions Options { get; }

    public IReadOnlyCollection<string> SupportedTypes => _factories.Keys;

    public IStorageDestination Create(StorageConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var type = config.Type ?? string.Empty;
        var endpoint = Options.Endpoints.GetValueOrDefault(type);
        if (_factories.TryGetValue(type, out var factory))
        {
            // An operator endpoint is trusted; otherwise the address came from the request.
            return factory.Create(config, endpoint, Options, endpoint is null ? _policy : null);
        }
        if (endpoint is not null && _factories.TryGetValue("aws", out var s3))
        {
            return s3.Create(config, endpoint, Options);
        }
        throw new StorageException(StorageFailure.Refused, $"storage type '{type}' is not available on this server");
    }
}
