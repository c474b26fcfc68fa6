namespace Isola.Host.Commands;

/// <summary>What a finished command left: its exit code and both output streams.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The exit code reported when a command ran past its time limit (as timeout(1) does).</summary>
    public const int TimedOut = 124;

    /// <summary>The exit code reported when the program could not be started (as a shell does).</summary>
    public const int NotFound = 127;

    public bool Succeeded => ExitCode == 0;

    /// <summary>A one-line description of a failure, for warnings and errors.</summary>
    public string Describe(IReadOnlyList<string> argv)
    {
        var detail = StandardError.Trim();
        if (detail.Length > 200)
            detail = detail[..200] + "...";
        return $"`{string.Join(' ', argv)}` exited {ExitCode}{(detail.Length > 0 ? ": " + detail : "")}";
    }
}
