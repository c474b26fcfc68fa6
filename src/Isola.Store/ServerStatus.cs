namespace Isola.Store;

/// <summary>Server statuses as stored and shown (Nova's words), and which of them hold resources.</summary>
public static class ServerStatus
{
    public const string Build = "BUILD";
    public const string Active = "ACTIVE";
    /// <summary>Its domain is defined and shut off (its guest powered off, or a stop): it keeps its claims, as in Nova, until deleted or started.</summary>
    public const string Shutoff = "SHUTOFF";
    /// <summary>Its domain is paused (a pause): the guest keeps its memory and claims, and runs no more until unpaused.</summary>
    public const string Paused = "PAUSED";
    /// <summary>A soft reboot: the guest asked to shut down cleanly, then started again.</summary>
    public const string Reboot = "REBOOT";
    /// <summary>A hard reboot: the domain powered off and started again.</summary>
    public const string HardReboot = "HARD_REBOOT";
    /// <summary>A rebuild: the domain powered off, a new root disk made from the (new) image and a new config drive, then started again.</summary>
    public const string Rebuild = "REBUILD";
    public const string Error = "ERROR";

    /// <summary>Every status a server may have.</summary>
    public static IReadOnlyList<string> All { get; } = [Build, Active, Shutoff, Paused, Reboot, HardReboot, Rebuild, Error];

    /// <summary>An ERROR server gave back what it held; every other status holds its claims.</summary>
    public static bool HoldsResources(string status) => status != Error;

    /// <summary>The statuses that hold resources, for SQL IN (...).</summary>
    internal const string HoldingList = "'BUILD', 'ACTIVE', 'SHUTOFF', 'PAUSED', 'REBOOT', 'HARD_REBOOT', 'REBUILD'";
}
