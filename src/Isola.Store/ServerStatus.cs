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
    /// <summary>A resize or cold migration (Nova shows both so): its new placement claimed beside the old, the guest shut down, its disk moved where the host changes, the domain started from the new plan.</summary>
    public const string Resize = "RESIZE";
    /// <summary>Resized (or migrated) and running on the new placement, the old one still held: waiting for a confirm (the old goes) or a revert (the new goes).</summary>
    public const string VerifyResize = "VERIFY_RESIZE";
    /// <summary>A revert: the new placement given back, the guest shut down there and started again on the old one.</summary>
    public const string RevertResize = "REVERT_RESIZE";
    public const string Error = "ERROR";

    /// <summary>Every status a server may have.</summary>
    public static IReadOnlyList<string> All { get; } = [Build, Active, Shutoff, Paused, Reboot, HardReboot, Rebuild, Resize, VerifyResize, RevertResize, Error];

    /// <summary>An ERROR server gave back what it held; every other status holds its claims.</summary>
    public static bool HoldsResources(string status) => status != Error;

    /// <summary>The statuses that hold resources, for SQL IN (...).</summary>
    internal const string HoldingList = "'BUILD', 'ACTIVE', 'SHUTOFF', 'PAUSED', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'REVERT_RESIZE'";
}
