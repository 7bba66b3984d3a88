using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Capstan.Server.Api;

/// <summary>A query parameter that a handler reads itself (through <see cref="QueryReader"/>), declared for the
/// OpenAPI document.</summary>
public sealed record QueryParameter(string Name, string Type, string Description, IReadOnlyList<string>? Values = null, bool Repeated = false);

public sealed record QueryParametersMetadata(IReadOnlyList<QueryParameter> Parameters);

/// <summary>Fills what the generator cannot see: the route-prefix path parameters, query parameters read by
/// hand, and descriptions.</summary>
public static partial class OpenApiDocs
{
    public static readonly QueryParameter PageNo = new("page_no", "integer", "1-based page number (default 1)");
    public static readonly QueryParameter PerPage = new("per_page", "integer", "Results per page (default 20, max 100)");
    public static readonly QueryParameter SortOrder = new("sort_order", "string", "ASC or DESC", ["ASC", "DESC"]);

    public static RouteHandlerBuilder WithQuery(this RouteHandlerBuilder builder, params QueryParameter[] parameters) =>
        builder.WithMetadata(new QueryParametersMetadata(parameters));

    public static Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(context);
        operation.Parameters ??= [];
        var declared = operation.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (Match m in PathParameter().Matches(context.Description.RelativePath ?? string.Empty))
        {
            var name = m.Groups[1].Value;
            if (declared.Add(name))
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = name,
                    In = ParameterLocation.Path,
                    Required = true,
                    Description = name == "account_id" ? "Account id (32 hex characters)" : $"{name.Replace('_', ' ')} (UUID)",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
        }
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<RequiresOperatorAttribute>().Any())
        {
            operation.Responses ??= [];
            operation.Responses["401"] = new OpenApiResponse { Description = "No token (error envelope)" };
            operation.Responses["403"] = new OpenApiResponse { Description = "Not the operator token, or Capstan:OperatorToken not configured (error envelope)" };
        }
        var query = context.Description.ActionDescriptor.EndpointMetadata.OfType<QueryParametersMetadata>().FirstOrDefault();
        foreach (var q in query?.Parameters ?? [])
        {
            if (!declared.Add(q.Name))
            {
                continue;
            }
            var schema = new OpenApiSchema { Type = q.Type == "integer" ? JsonSchemaType.Integer : q.Type == "boolean" ? JsonSchemaType.Boolean : JsonSchemaType.String };
            if (q.Type == "date-time")
            {
                schema.Format = "date-time";
            }
            if (q.Values is { } values)
            {
                schema.Enum = values.Select(v => (JsonNode)JsonValue.Create(v)!).ToList();
            }
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = q.Name,
                In = ParameterLocation.Query,
                Description = q.Description,
                Schema = q.Repeated ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = schema } : schema,
                Explode = q.Repeated,
            });
        }
        return Task.CompletedTask;
    }

    /// <summary>The OpenAPI text of <c>GET /system/nodes</c>: what it lists and the operator's credential.</summary>
    public const string OperatorNodesDescription =
        "A Capstan extension for the operator of the deployment, not part of the RealtimeKit contract. " +
        "Authenticate with the operator token, the server setting Capstan:OperatorToken (32 to 512 characters; environment Capstan__OperatorToken), " +
        "sent as 'Authorization: Bearer <token>' (or X-Auth-Key). No token: 401. Any other token, an account's API token included, or no operator token configured: 403. " +
        "Lists every recorder node (state active, draining or lost; slots, busy and warm as last reported; the ids of the recordings whose jobs it holds; " +
        "its measured capacity: cpu_cores and memory_bytes its recordings may use, cpu_used and memory_used_bytes, and the estimate per cost class such as browser:720p30) " +
        "and the queue: the recordings waiting for a worker, in the order workers claim them, each with its queue_position among recordings of its type " +
        "(INVOKED ones not started yet; RECORDING, PAUSED or UPLOADING ones handed over by a draining worker or left by a lost one), at most 1000 listed, queue_depth counting all.";

    internal static QueryParameter[] RecordingListQuery() =>
    [
        new("meeting_id", "string", "Only recordings of this meeting"),
        PageNo, PerPage,
        new("expired", "boolean", "true: only recordings whose download URL has expired; false: only the others"),
        new("search", "string", "Case-insensitive match on meeting id, meeting title and output file name"),
        new("sort_by", "string", "Only invokedTime", ["invokedTime"]),
        SortOrder,
        new("start_time", "date-time", "Invoked at or after"),
        new("end_time", "date-time", "Invoked at or before"),
        new("status", "string", "Repeated keys (status=A&status=B) or a comma list (status=A,B)", RecordingStatus.All, Repeated: true),
    ];

    [GeneratedRegex(@"\{([a-z_]+)\}")]
    private static partial Regex PathParameter();
}
