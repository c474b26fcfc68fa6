using System.CommandLine;
using System.Net.Http.Headers;
using Isola.Cli.Local;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary><c>isola demo</c>: the game-server and NFV scenarios against a running <c>isola up</c>, step by step.</summary>
internal static class DemoCommand
{
    public static Command Create(CliConsole console)
    {
        var url = new Option<string>("--url") { Description = "The API (default: ISOLA_URL, else http://127.0.0.1:8780)" };
        var token = new Option<string>("--token") { Description = "An admin token (default: ISOLA_TOKEN, else DIR/admin-token)" };
        var dir = new Option<string>("--dir") { Description = "isola up's working directory", DefaultValueFactory = _ => ".isola" };
        var command = new Command("demo", "Run the game-server and NFV scenarios end to end against isola up") { url, token, dir };
        command.SetAction(async (parse, ct) =>
        {
            var endpoint = parse.GetValue(url) ?? Environment.GetEnvironmentVariable("ISOLA_URL") ?? "http://127.0.0.1:8780";
            var file = Path.Join(parse.GetValue(dir), "admin-token");
            var secret = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("ISOLA_TOKEN") ?? (File.Exists(file) ? File.ReadAllText(file).Trim() : null);
            if (secret is null)
                return console.Fail(ExitCodes.Usage, $"no token: give --token, set ISOLA_TOKEN, or run isola up (it keeps one in {file})");
            using var api = new HttpClient { BaseAddress = new Uri(endpoint), Timeout = TimeSpan.FromSeconds(30) };
            api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            var failed = 0;
            try
            {
                await foreach (var step in new DemoScenarios(api).RunAsync(ct))
                {
                    failed += step.Ok ? 0 : 1;
                    console.Ansi.MarkupLine($"{(step.Ok ? "[green]ok[/]  " : "[red]FAIL[/]")} [bold]{Markup.Escape(step.Scenario)}[/]: {Markup.Escape(step.Action)}");
                    console.Ansi.MarkupLine($"      {Markup.Escape(step.Result)}");
                }
            }
            catch (HttpRequestException e)
            {
                return console.Fail(ExitCodes.Unavailable, $"{endpoint}: {e.Message} (is isola up running?)");
            }
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
