namespace Isola.Host.Commands;

/// <summary>
/// Runs host commands. Every command Isola issues goes through one of these, so tests can check the
/// exact argv and answer it, and a simulated host can answer it from its own state.
/// </summary>
public interface ICommandRunner
{
    Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default);
}
