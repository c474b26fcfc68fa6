namespace Isola.Host.Commands;

public static class CommandRunners
{
    /// <summary>
    /// The runner for a host rooted at <paramref name="root"/>: a generated tree answers from its
    /// recordings; anything else (a real host at "/") runs the real commands.
    /// </summary>
    public static ICommandRunner ForRoot(string root)
    {
        var recorded = Path.Join(root, RecordedCommandRunner.RelativeDirectory);
        return Directory.Exists(recorded) ? new RecordedCommandRunner(recorded) : new ProcessCommandRunner();
    }
}
