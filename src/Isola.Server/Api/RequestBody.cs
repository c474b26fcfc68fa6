using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Api;

/// <summary>
/// The rules every request body meets before an endpoint sees it: JSON (application/json), at most
/// <see cref="MaxBytes"/>, well formed, no deeper than <see cref="MaxDepth"/>, no string longer than
/// <see cref="MaxStringLength"/>, and no <c>null</c> as an array item (no list in Isola's API has holes). A body that breaks one is answered with the documented
/// error naming the JSON path; the endpoint then binds the same bytes.
/// </summary>
internal static class RequestBody
{
    /// <summary>The largest body: a host inventory of a big machine is a few hundred KiB.</summary>
    public const long MaxBytes = 8 << 20;

    public const int MaxDepth = 32;

    /// <summary>The longest string value (a guest's user data, the longest text the API takes, is at most 64 KiB as in Nova).</summary>
    public const int MaxStringLength = 64 << 10;

    public static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);

    /// <summary>
    /// Checks the body of a request that has one; throws <see cref="ApiException"/> naming what is wrong. An
    /// endpoint marked <see cref="StreamedBody"/> gets its body unread, once its Content-Type is checked.
    /// </summary>
    public static async Task CheckAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HasBody(request))
            return;
        if (context.GetEndpoint()?.Metadata.GetMetadata<StreamedBody>() is { } streamed)
        {
            if (!IsMedia(request.ContentType, streamed.ContentType))
                throw new ApiException(415, "unsupported-media-type", $"the body must be Content-Type: {streamed.ContentType}, not '{request.ContentType}'", "Content-Type");
            return;
        }
        if (!IsJson(request.ContentType))
            throw new ApiException(415, "unsupported-media-type",
                $"the body must be JSON (Content-Type: application/json), not '{request.ContentType}'", "Content-Type");
        if (request.ContentLength > MaxBytes)
            throw new ApiException(413, "too-large", $"the body is {request.ContentLength} bytes; at most {MaxBytes}", "body");
        var memory = await ReadAsync(request, context.RequestAborted);
        // The endpoint binds the same bytes.
        context.Response.RegisterForDispose(memory);
        request.Body = memory;
        var error = Scan(memory.GetBuffer().AsSpan(0, (int)memory.Length));
        if (error is not null)
            throw ApiException.Invalid(error.Field, error.Message);
        context.Items[CheckedBody] = new ArraySegment<byte>(memory.GetBuffer(), 0, (int)memory.Length);
    }

    private const string CheckedBody = "isola.checked-body";

    /// <summary>
    /// The body as <see cref="CheckAsync"/> read and passed it, as text (empty for a request without
    /// one): an endpoint that takes the body whole (a host inventory) reads it here, not from the stream again.
    /// </summary>
    public static string Text(HttpContext context) =>
        context.Items.TryGetValue(CheckedBody, out var body) && body is ArraySegment<byte> bytes ? Encoding.UTF8.GetString(bytes) : "";

    /// <summary>
    /// The whole body, counted as it is read: a body without a Content-Length (chunked) is refused
    /// as soon as it passes <see cref="MaxBytes"/>, so its size is never taken on trust.
    /// </summary>
    private static async Task<MemoryStream> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        // Grown as bytes arrive, not sized by what the header claims.
        var memory = new MemoryStream((int)Math.Min(request.ContentLength ?? 0, 64 << 10));
        var buffer = new byte[16 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
        {
            if (memory.Length + read > MaxBytes)
            {
                await memory.DisposeAsync();
                throw new ApiException(413, "too-large", $"the body is over {MaxBytes} bytes", "body");
            }
            memory.Write(buffer, 0, read);
        }
        memory.Position = 0;
        return memory;
    }

    private static bool IsMedia(string? contentType, string media) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals(media, StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string? contentType) =>
        contentType is not null && contentType.Split(';')[0].Trim() is var media &&
        (media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>The first thing wrong with the JSON text, or null.</summary>
    public static FieldError? Scan(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
        // The path to where the reader is: property names and array indexes.
        var path = new List<(string? Property, int Index)>();
        string? pending = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        pending = reader.GetString();
                        continue;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Enter(path, ref pending);
                        path.Add((null, reader.TokenType == JsonTokenType.StartArray ? 0 : -1));
                        continue;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        if (path.Count > 0)
                            Leave(path);
                        continue;
                    case JsonTokenType.Null when path.Count > 0 && path[^1].Index >= 0:
                        return new FieldError(Path(path, null), "null is not a list item here; leave the item out");
                    case JsonTokenType.String when (reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length) > MaxStringLength:
                        Enter(path, ref pending);
                        return new FieldError(Path(path, null), $"at most {MaxStringLength} characters");
                    default:
                        Enter(path, ref pending);
                        if (path.Count > 0)
                            Leave(path);
                        continue;
                }
            }
        }
        catch (JsonException e)
        {
            var where = path.Count > 0 ? Path(path, pending) : "";
            return new FieldError("body", $"not valid JSON{(where.Length > 0 ? $" (at {where})" : "")}: {WithoutPosition(e.Message)}");
        }
        return null;
    }

    // A value starts: under a property (objects) or as the next item (arrays).
    private static void Enter(List<(string? Property, int Index)> path, ref string? pending)
    {
        if (path.Count > 0 && path[^1].Index < 0)
            path[^1] = (pending, -1);
        pending = null;
    }

    // A value ended: an array moves to its next item.
    private static void Leave(List<(string? Property, int Index)> path)
    {
        if (path[^1].Index >= 0)
            path[^1] = (null, path[^1].Index + 1);
    }

    private static string Path(List<(string? Property, int Index)> path, string? pending)
    {
        var text = new StringBuilder();
        // Each level is a container; the item or property it is on names the next step.
        for (var i = 0; i < path.Count; i++)
        {
            var (property, index) = path[i];
            if (index >= 0)
                text.Append('[').Append(index).Append(']');
            else if ((i == path.Count - 1 ? pending ?? property : property) is { } name)
                text.Append(text.Length > 0 ? "." : "").Append(name);
        }
        return text.ToString();
    }

    /// <summary>A JSON reader's message without its " Path: $... | LineNumber ..." suffix (the error's field carries the path).</summary>
    public static string WithoutPosition(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}

/// <summary>
/// Endpoint metadata: the body is not JSON but bytes of <paramref name="ContentType"/>, which the endpoint
/// streams itself (an image's file): <see cref="RequestBody"/> checks only the Content-Type and reads nothing.
/// </summary>
internal sealed record StreamedBody(string ContentType);
