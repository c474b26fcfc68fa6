namespace Isola.Store;

/// <summary>Server statuses as stored and shown (Nova's words), and which of them hold resources.</summary>
public static class ServerStatus
{
    public const string Build = "BUILD";
    public const string Active = "ACTIVE";
    public const string Error = "ERROR";

    /// <summary>An ERROR server gave back what it held; every other status holds its claims.</summary>
    public static bool HoldsResources(string status) => status != Error;

    /// <summary>The statuses that hold resources, for SQL IN (...).</summary>
    internal const string HoldingList = "'BUILD', 'ACTIVE'";
}
