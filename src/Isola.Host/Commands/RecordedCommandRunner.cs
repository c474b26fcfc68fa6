namespace Isola.Host.Commands;

/// <summary>
/// Answers commands from files recorded beside a generated host tree
/// (<c>&lt;root&gt;/.isola-sim/commands/&lt;key&gt;.out</c>), the way the real tools answered them.
/// A command without a recording fails as a missing program would.
/// </summary>
public sealed class RecordedCommandRunner(string directory) : ICommandRunner
{
    public const string RelativeDirectory = ".isola-sim/commands";

    public static string KeyOf(IReadOnlyList<string> argv) =>
        string.Join('_', argv.Select(a => string.Concat(a.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '+'))));

    public static string PathOf(string directory, IReadOnlyList<string> argv) => Path.Combine(directory, KeyOf(argv) + ".out");

    public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default)
    {
        var path = PathOf(directory, argv);
        return Task.FromResult(File.Exists(path)
            ? new CommandResult(0, File.ReadAllText(path), "")
            : new CommandResult(CommandResult.NotFound, "", $"no recorded answer for `{string.Join(' ', argv)}`"));
    }
}
