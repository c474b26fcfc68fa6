using Isola.Host.Commands;

namespace Isola.Tests.Host.Commands;

public class ProcessCommandRunnerTests
{
    private readonly ProcessCommandRunner _runner = new(TimeSpan.FromSeconds(10));

    [Fact]
    public async Task Passes_arguments_without_a_shell_and_captures_both_streams()
    {
        var r = await _runner.RunAsync(["sh", "-c", "printf '%s|' \"$@\"; echo oops >&2; exit 3", "sh", "a b", "$HOME", ";ls"]);
        Assert.Equal((3, "a b|$HOME|;ls|", "oops\n"), (r.ExitCode, r.StandardOutput, r.StandardError));
        Assert.False(r.Succeeded);
    }

    [Fact]
    public async Task A_missing_program_is_127()
    {
        var r = await _runner.RunAsync(["isola-no-such-program"]);
        Assert.Equal(CommandResult.NotFound, r.ExitCode);
    }

    [Fact]
    public async Task A_command_past_its_time_limit_is_killed_and_reported_as_124()
    {
        var started = DateTime.UtcNow;
        var r = await new ProcessCommandRunner(TimeSpan.FromMilliseconds(300)).RunAsync(["sleep", "30"]);
        Assert.Equal(CommandResult.TimedOut, r.ExitCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Recorded_answers_are_keyed_by_the_exact_argv()
    {
        using var dir = new Isola.Tests.Support.TempDir();
        File.WriteAllText(RecordedCommandRunner.PathOf(dir.Path, ["ip", "-d", "-j", "link", "show", "dev", "p2p1"]), "[]");
        var runner = new RecordedCommandRunner(dir.Path);
        Assert.Equal("[]", (await runner.RunAsync(["ip", "-d", "-j", "link", "show", "dev", "p2p1"])).StandardOutput);
        Assert.Equal(CommandResult.NotFound, (await runner.RunAsync(["ip", "-j", "link", "show", "dev", "p2p1"])).ExitCode);
    }
}
