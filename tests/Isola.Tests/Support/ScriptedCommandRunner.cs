using Isola.Host.Commands;

namespace Isola.Tests.Support;

/// <summary>Answers commands from a script and records every argv it was asked to run, in order.</summary>
public sealed class ScriptedCommandRunner : ICommandRunner
{
    private readonly Dictionary<string, CommandResult> _answers = [];

    public List<IReadOnlyList<string>> Calls { get; } = [];

    public ScriptedCommandRunner Answer(IReadOnlyList<string> argv, string stdout) => Answer(argv, new CommandResult(0, stdout, ""));

    public ScriptedCommandRunner Answer(IReadOnlyList<string> argv, CommandResult result)
    {
        _answers[string.Join('\0', argv)] = result;
        return this;
    }

    public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default)
    {
        Calls.Add(argv.ToList());
        return Task.FromResult(_answers.TryGetValue(string.Join('\0', argv), out var r)
            ? r
            : new CommandResult(CommandResult.NotFound, "", $"{argv[0]}: not scripted"));
    }
}
