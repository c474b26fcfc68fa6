namespace Isola.Domain.Topology;

/// <summary>Something discovery could not read or did not like; it went on without it.</summary>
/// <param name="Subject">What it is about: a device address, a netdev or a file path under the root.</param>
/// <param name="Code">A stable code word (see <see cref="WarningCodes"/>).</param>
/// <param name="Message">What was wrong, for people.</param>
public sealed record DiscoveryWarning(string Subject, string Code, string Message)
{
    public override string ToString() => $"{Subject}: {Message} [{Code}]";
}

public static class WarningCodes
{
    public const string MissingFile = "missing-file";
    public const string Malformed = "malformed";
    public const string DanglingLink = "dangling-link";
    public const string NumaUnknown = "numa-unknown";
    public const string NoDriver = "no-driver";
    public const string CommandFailed = "command-failed";
    public const string VfStateMissing = "vf-state-missing";
    public const string ConfigUnmatched = "config-unmatched";
}
