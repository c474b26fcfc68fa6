namespace Isola.Cli;

/// <summary>What isola's exit status means (docs/cli.md).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The work failed: an I/O error, a command that failed, a file that would not parse, a server error.</summary>
    public const int Failed = 1;
    /// <summary>The command line, a configuration value or the request the API got is wrong; nothing was done.</summary>
    public const int Usage = 2;
    /// <summary>The work was done but with warnings, and --strict was asked.</summary>
    public const int Warnings = 3;
    /// <summary>The API refused the token: none or unknown (401), or without the right (403).</summary>
    public const int Denied = 4;
    /// <summary>The API has no such resource, or none the token may see (404).</summary>
    public const int NotFound = 5;
    /// <summary>The API refused because of the state it is in: a name or segment taken, a resource in use, no valid host (409).</summary>
    public const int Conflict = 6;
    /// <summary>The API could not be reached, or asked to try again (503): retrying may help.</summary>
    public const int Unavailable = 7;
}
