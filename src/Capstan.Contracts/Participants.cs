using System.Text.Json.Serialization;

namespace Capstan.Contracts;

public sealed class AddParticipantRequest
{
    public string? CustomParticipantId { get; set; }
    public string? PresetName { get; set; }
    public string? Name { get; set; }
    public string? Picture { get; set; }
}

public sealed class EditParticipantRequest
{
    public string? Name { get; set; }
    public string? Picture { get; set; }
    public string? PresetName { get; set; }
}

public sealed class ParticipantDto
{
    public required string Id { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }

    public required string CustomParticipantId { get; init; }
    public required string PresetName { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Picture { get; init; }

    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

public sealed record DeletedParticipantDto(DateTime CreatedAt, string CustomParticipantId, string PresetId, DateTime UpdatedAt);

public sealed record ParticipantTokenDto(string Token);

public sealed record PresetDto(string Id, string Name, DateTime CreatedAt, DateTime UpdatedAt);

public sealed class PresetDetailsDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public required object Config { get; init; }
    public required object Permissions { get; init; }
    public required object Ui { get; init; }
}
