namespace Isola.Cli;

/// <summary>What isola's exit status means (docs/cli.md).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The work failed: an I/O error, a command that failed, a file that would not parse.</summary>
    public const int Failed = 1;
    /// <summary>The command line or a configuration value is wrong; nothing was done.</summary>
    public const int Usage = 2;
    /// <summary>The work was done but with warnings, and --strict was asked.</summary>
    public const int Warnings = 3;
}
