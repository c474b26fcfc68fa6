using Isola.Cli;

namespace Isola.Tests.Cli;

internal static class CliRunner
{
    public static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CliApp.RunAsync(args, new CliConsole(output, error, interactive: false));
        return (exit, output.ToString(), error.ToString());
    }
}
