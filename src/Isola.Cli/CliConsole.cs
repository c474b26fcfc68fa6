using Spectre.Console;

namespace Isola.Cli;

/// <summary>Where a command writes: people's output (tables, progress) and errors, injectable for tests.</summary>
public sealed class CliConsole(TextWriter output, TextWriter error, bool interactive)
{
    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;

    /// <summary>True when a person watches a terminal: progress bars and colour are worth drawing.</summary>
    public bool Interactive { get; } = interactive;

    public IAnsiConsole Ansi { get; } = CreateAnsi(output, interactive);

    private static IAnsiConsole CreateAnsi(TextWriter output, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        // A file or a pipe has no width; do not squeeze tables into 80 columns for it.
        if (!interactive)
            console.Profile.Width = 200;
        return console;
    }

    public static CliConsole System() =>
        new(Console.Out, Console.Error, !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null);

    public int Fail(int code, string message)
    {
        Error.WriteLine($"isola: {message}");
        return code;
    }
}
