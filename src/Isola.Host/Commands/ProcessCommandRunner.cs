using System.ComponentModel;
using System.Diagnostics;

namespace Isola.Host.Commands;

/// <summary>Runs commands as real processes, without a shell, with a time limit.</summary>
public sealed class ProcessCommandRunner(TimeSpan timeout) : ICommandRunner
{
    public ProcessCommandRunner() : this(TimeSpan.FromSeconds(30))
    {
    }

    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(argv.Count);
        var info = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in argv.Skip(1))
            info.ArgumentList.Add(arg);
        // Tools must print in the C locale so their output parses the same everywhere.
        info.Environment["LC_ALL"] = "C";

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new CommandResult(CommandResult.NotFound, "", $"{argv[0]}: {e.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return new CommandResult(CommandResult.TimedOut, "", $"{argv[0]}: timed out after {timeout.TotalSeconds:0.#} s");
        }
        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }
}
