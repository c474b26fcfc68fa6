using System.Diagnostics;
using Isola.Cli.Commands;

namespace Isola.Tests.Cli;

/// <summary>How <c>isola lab run -- ...</c> turns its arguments into the job's shell line, checked with a real sh.</summary>
public sealed class LabCommandTests
{
    private static string Sh(string line)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(line);
        using var sh = Process.Start(info)!;
        var output = sh.StandardOutput.ReadToEnd();
        sh.WaitForExit();
        return output;
    }

    [Fact]
    public void One_argument_is_a_shell_command_line() =>
        Assert.Equal("a\nb\n", Sh(LabCommand.CommandLine(["echo a; echo b"])));

    [Fact]
    public void Several_arguments_are_a_program_and_its_arguments_passed_as_given() =>
        Assert.Equal("a\nit's $HOME; b\n", Sh(LabCommand.CommandLine(["sh", "-c", "echo a; echo \"$0\"", "it's $HOME; b"])));
}
