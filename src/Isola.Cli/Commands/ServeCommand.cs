using System.Collections;
using System.CommandLine;
using Isola.Server;
using Isola.Server.Settings;
using Microsoft.AspNetCore.Builder;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola serve</c>: the API server (SQLite under ./.isola by default, or PostgreSQL). Its settings come
/// from the flags, then ISOLA__* environment variables, then the Isola section of appsettings.json.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var config = new Option<string?>("--config") { Description = "A JSON file with an \"Isola\" section (else ./appsettings.json when there)" };
        var flags = new ServerFlags();
        var command = new Command("serve", "Run the Isola API server") { config };
        flags.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            ServerSettings settings;
            try
            {
                settings = ServerConfiguration.Load(new SettingsSources(parse.GetValue(config), Environment.CurrentDirectory, ProcessEnvironment(), flags.Given(parse)));
            }
            catch (SettingsException e)
            {
                return ServeCommand.Fail(console, e);
            }
            StartedServer started;
            try
            {
                started = await IsolaServer.StartAsync(settings, ct: ct);
            }
            catch (ListenException e)
            {
                return console.Fail(ExitCodeOf(e), $"{e.Message}; choose another with --urls");
            }
            console.Out.WriteLine($"isola API on {string.Join(", ", started.App.Urls)} (store: {Isola.Store.StoreConnectionFactory.Parse(settings.Store).Describe()})");
            if (started.InitialAdminSecret is { } secret)
                console.Out.WriteLine($"admin token (shown once, stored hashed): {secret}");
            console.Out.WriteLine("Ctrl-C stops the server.");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            await started.App.StopAsync(CancellationToken.None);
            await started.App.DisposeAsync();
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A taken address may be free later (7, like an API that cannot be reached); any other is a wrong --urls (2).</summary>
    public static int ExitCodeOf(ListenException e) => e.AddressInUse ? ExitCodes.Unavailable : ExitCodes.Usage;

    /// <summary>Every wrong setting on its own line, naming where it came from.</summary>
    public static int Fail(CliConsole console, SettingsException e)
    {
        foreach (var error in e.Errors)
            console.Fail(ExitCodes.Usage, error);
        return ExitCodes.Usage;
    }

    public static IReadOnlyDictionary<string, string> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
}
