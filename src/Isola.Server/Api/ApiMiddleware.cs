using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Api;

/// <summary>Token check for /v1 and the one place errors become JSON answers.</summary>
internal sealed class ApiMiddleware(RequestDelegate next, ResourceStore resources)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            if (context.Request.Path.StartsWithSegments("/v1"))
            {
                var secret = context.Request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal)
                    ? auth["Bearer ".Length..].Trim()
                    : context.Request.Headers["X-Auth-Token"].ToString();
                var token = secret.Length == 0 ? null : await resources.TokenBySecretAsync(secret);
                if (token is null)
                    throw ApiException.Unauthorized();
                context.Items[nameof(Caller)] = new Caller(token);
            }
            await next(context);
        }
        catch (ApiException e)
        {
            await Write(context, e);
        }
        catch (AmbiguousNameException e)
        {
            await Write(context, ApiException.Conflict("ambiguous-name", e.Message));
        }
        catch (BadHttpRequestException e)
        {
            await Write(context, ApiException.Invalid("body", e.Message));
        }
        catch (JsonException e)
        {
            await Write(context, ApiException.Invalid(e.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "body", e.Message));
        }
    }

    private static async Task Write(HttpContext context, ApiException e)
    {
        context.Response.StatusCode = e.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            error = new { status = e.Status, code = e.Code, field = e.Field, message = e.Message, details = e.Details, extra = e.Extra },
        }, IsolaJson.Options));
    }
}
