namespace Isola.Server.Settings;

/// <summary>Settings that are wrong, each naming where it came from (the flag, the environment variable or the file's key) and the rule.</summary>
public sealed class SettingsException(IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
