namespace Isola.Server.Api;

/// <summary>One thing wrong with a request: the field and the rule.</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>
/// An error answer: status code, a code word, the field when one is at fault, and a message —
/// written as <c>{"error": {"status", "code", "field", "message", "details"}}</c>.
/// </summary>
public sealed class ApiException(int status, string code, string message, string? field = null, IReadOnlyList<FieldError>? details = null, object? extra = null)
    : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    public string? Field { get; } = field;

    public IReadOnlyList<FieldError> Details { get; } = details ?? [];

    public object? Extra { get; } = extra;

    /// <summary>The same error about a part of a bigger request: its fields under <paramref name="prefix"/> (e.g. "networks[0].").</summary>
    public ApiException Under(string prefix) =>
        Code == "invalid" && Details.Count > 0
            ? Invalid(Details.Select(d => d with { Field = prefix + d.Field }).ToList())
            : new(Status, Code, Message, Field is null ? prefix.TrimEnd('.') : prefix + Field, Details.Select(d => d with { Field = prefix + d.Field }).ToList(), Extra);

    public static ApiException Invalid(IReadOnlyList<FieldError> errors) =>
        new(400, "invalid", string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}")), errors.Count == 1 ? errors[0].Field : null, errors);

    public static ApiException Invalid(string field, string message) => Invalid([new FieldError(field, message)]);

    public static ApiException NotFound(string kind, string id) => new(404, "not-found", $"no {kind} '{id}'");

    public static ApiException Conflict(string code, string message, string? field = null, object? extra = null) => new(409, code, message, field, extra: extra);

    public static ApiException Forbidden(string message) => new(403, "forbidden", message);

    public static ApiException Unauthorized() => new(401, "unauthorized", "a valid token is needed: Authorization: Bearer <token> or X-Auth-Token");
}
