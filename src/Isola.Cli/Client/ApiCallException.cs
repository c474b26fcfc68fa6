using System.Text.Json;

namespace Isola.Cli.Client;

/// <summary>
/// A call that did not do what was asked: an API error answer (<c>{"error": {status, code, field, message}}</c>)
/// or no answer at all; <see cref="ExitCode"/> says which kind for scripts (docs/cli.md).
/// </summary>
internal sealed class ApiCallException(int exitCode, string message, string? field = null, string? code = null) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public string? Field { get; } = field;

    public string? Code { get; } = code;

    /// <summary>"message (field: X, code: Y)", as the CLI prints it after "isola: ".</summary>
    public string Describe()
    {
        var notes = new List<string>();
        if (Field is not null)
            notes.Add($"field: {Field}");
        if (Code is not null)
            notes.Add($"code: {Code}");
        return notes.Count == 0 ? Message : $"{Message} ({string.Join(", ", notes)})";
    }

    /// <summary>The exception for an error answer; a body that is not an Isola error still gives the status.</summary>
    public static ApiCallException FromAnswer(int status, string body)
    {
        string? code = null, field = null, message = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                code = Text(error, "code");
                field = Text(error, "field");
                message = Text(error, "message");
            }
        }
        catch (JsonException)
        {
        }
        message ??= $"the API answered {status}{(body.Length == 0 ? "" : ": " + Shorten(body))}";
        return new ApiCallException(ExitCodeOf(status), message, field, code);
    }

    public static int ExitCodeOf(int status) => status switch
    {
        400 or 422 => ExitCodes.Usage,
        401 or 403 => ExitCodes.Denied,
        404 => ExitCodes.NotFound,
        409 => ExitCodes.Conflict,
        503 => ExitCodes.Unavailable,
        _ => ExitCodes.Failed,
    };

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Shorten(string body)
    {
        var line = body.ReplaceLineEndings(" ").Trim();
        return line.Length <= 200 ? line : line[..200] + "...";
    }
}
