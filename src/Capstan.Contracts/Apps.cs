namespace Capstan.Contracts;

public sealed class CreateAppRequest
{
    public string? Name { get; set; }
}

public sealed record AppDto(string Id, string Name, DateTime CreatedAt);

public sealed record CreateAppResponse(AppDto App);
