using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Api;

/// <summary>
/// Token check for /v1, the body rules (<see cref="RequestBody"/>), and the one place errors become
/// the documented JSON answer — also the framework's own refusals (no such route, method not allowed,
/// a body that does not bind) and, as a last resort, a failure of Isola's (500, logged).
/// </summary>
internal sealed partial class ApiMiddleware(RequestDelegate next, ResourceStore resources, ILogger<ApiMiddleware> log)
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
                var token = secret.Length == 0 ? null : await resources.Tokens.BySecretAsync(secret);
                if (token is null)
                    throw ApiException.Unauthorized();
                context.Items[nameof(Caller)] = new Caller(token);
                await RequestBody.CheckAsync(context);
            }
            await next(context);
            if (!context.Response.HasStarted && context.Response.StatusCode >= 400)
                await Write(context, Refusal(context));
        }
        catch (ApiException e)
        {
            await Write(context, e);
        }
        catch (Isola.Store.Listing.UnknownMarkerException e)
        {
            await Write(context, ApiException.Invalid("marker", e.Message));
        }
        catch (AmbiguousNameException e)
        {
            await Write(context, ApiException.Conflict("ambiguous-name", e.Message));
        }
        catch (BadHttpRequestException e)
        {
            await Write(context, Binding(e));
        }
        catch (JsonException e)
        {
            await Write(context, ApiException.Invalid(e.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "body", e.Message));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away: nobody to answer.
        }
        catch (Exception e)
        {
            LogFailure(log, e, context.Request.Method, context.Request.Path);
            await Write(context, new ApiException(500, "internal", $"Isola failed to answer this request ({e.GetType().Name}); the server log has the details"));
        }
    }

    /// <summary>A framework refusal that has no body of its own, in the documented form.</summary>
    private static ApiException Refusal(HttpContext context)
    {
        var status = context.Response.StatusCode;
        return status switch
        {
            404 => new ApiException(404, "not-found", $"no resource at {context.Request.Path}"),
            405 => new ApiException(405, "method-not-allowed", $"{context.Request.Method} is not a method of {context.Request.Path}", "method"),
            415 => new ApiException(415, "unsupported-media-type", "the body must be JSON (Content-Type: application/json)", "Content-Type"),
            _ => new ApiException(status, "invalid", $"the request was refused ({status})"),
        };
    }

    /// <summary>A body or parameter that does not bind: the JSON path and the rule when the JSON reader said them.</summary>
    private static ApiException Binding(BadHttpRequestException e)
    {
        if (e.InnerException is JsonException json)
        {
            var field = json.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "body";
            return ApiException.Invalid(field, Describe(json));
        }
        if (e.StatusCode == 413)
            return new ApiException(413, "too-large", e.Message, "body");
        if (e.StatusCode == 415)
            return new ApiException(415, "unsupported-media-type", "the body must be JSON (Content-Type: application/json)", "Content-Type");
        return e.Message.Contains("no body was provided", StringComparison.Ordinal) || e.Message.StartsWith("Required parameter", StringComparison.Ordinal)
            ? ApiException.Invalid("body", "the request needs a JSON object body")
            : ApiException.Invalid("body", e.Message);
    }

    /// <summary>The rule the JSON broke, in the API's words (the field carries the path; .NET type names stay inside).</summary>
    private static string Describe(JsonException e)
    {
        var message = e.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
            return "is not a field of this request";
        if (message.Contains("could not be converted", StringComparison.Ordinal) || message.Contains("cannot be converted", StringComparison.Ordinal))
            return "has the wrong type or is out of range";
        if (message.Contains("non-nullable", StringComparison.Ordinal) || message.Contains("null", StringComparison.OrdinalIgnoreCase))
            return "must not be null";
        if (message.Contains("missing required properties", StringComparison.Ordinal))
            return "a required field is missing";
        return RequestBody.WithoutPosition(message);
    }

    private static async Task Write(HttpContext context, ApiException e)
    {
        if (context.Response.HasStarted)
            return;
        context.Response.Clear();
        context.Response.StatusCode = e.Status;
        context.Response.ContentType = "application/json";
        if (e.Status == 405 && context.GetEndpoint() is null)
            context.Response.Headers.Allow = AllowedMethods(context);
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            error = new
            {
                status = e.Status, code = e.Code, field = Clip(e.Field), message = Clip(e.Message), details = e.Details.Select(d => new { field = Clip(d.Field), message = Clip(d.Message) }),
                extra = e.Extra,
            },
        }, IsolaJson.Options));
    }

    /// <summary>Messages quote what was sent; a long value is not sent back whole.</summary>
    private static string? Clip(string? text) => text is { Length: > MaxMessage } ? $"{text[..MaxMessage]}… ({text.Length - MaxMessage} more characters)" : text;

    private const int MaxMessage = 1024;

    private static string AllowedMethods(HttpContext context)
    {
        var sources = context.RequestServices.GetService(typeof(EndpointDataSource)) as EndpointDataSource;
        return sources is null ? "" : string.Join(", ", sources.Endpoints.OfType<RouteEndpoint>()
            .Where(r => Matches(r, context.Request.Path))
            .SelectMany(r => r.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Distinct());
    }

    private static bool Matches(RouteEndpoint endpoint, PathString path)
    {
        var matcher = new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(
            Microsoft.AspNetCore.Routing.Template.TemplateParser.Parse(endpoint.RoutePattern.RawText ?? ""), new RouteValueDictionary());
        return matcher.TryMatch(path, new RouteValueDictionary());
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogFailure(ILogger logger, Exception e, string method, string path);
}
