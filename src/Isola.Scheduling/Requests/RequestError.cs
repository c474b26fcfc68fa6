namespace Isola.Scheduling.Requests;

/// <summary>A request value that breaks a rule: the field (an extra spec key, a port field) and the rule.</summary>
public sealed record RequestError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>Every error found in a request, reported together.</summary>
public sealed class RequestValidationException(IReadOnlyList<RequestError> errors)
    : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<RequestError> Errors { get; } = errors;
}
