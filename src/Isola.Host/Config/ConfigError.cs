namespace Isola.Host.Config;

/// <summary>A configuration value that breaks a rule: which field, which value, what the rule is.</summary>
public sealed record ConfigError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>Thrown with every error found in a configuration, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception("invalid host configuration:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
