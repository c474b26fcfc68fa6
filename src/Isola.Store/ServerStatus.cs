namespace Isola.Store;

/// <summary>Server statuses as stored and shown (Nova's words), and which of them hold resources.</summary>
public static class ServerStatus
{
    public const string Build = "BUILD";
    public const string Active = "ACTIVE";
    /// <summary>Its domain is defined and shut off (its guest powered off): it keeps its claims, as in Nova, until deleted or started.</summary>
    public const string Shutoff = "SHUTOFF";
    public const string Error = "ERROR";

    /// <summary>An ERROR server gave back what it held; every other status holds its claims.</summary>
    public static bool HoldsResources(string status) => status != Error;

    /// <summary>The statuses that hold resources, for SQL IN (...).</summary>
    internal const string HoldingList = "'BUILD', 'ACTIVE', 'SHUTOFF'";
}
