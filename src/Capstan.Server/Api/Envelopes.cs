using Capstan.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

internal static class Envelopes
{
    public static Ok<Envelope<T>> Ok<T>(T data) => TypedResults.Ok(new Envelope<T>(true, data));

    public static JsonHttpResult<Envelope<T>> Created<T>(T data) => TypedResults.Json(new Envelope<T>(true, data), statusCode: StatusCodes.Status201Created);

    public static Ok<PagedEnvelope<T>> Page<T>(T data, Paging paging) => TypedResults.Ok(new PagedEnvelope<T>(true, data, paging));
}
