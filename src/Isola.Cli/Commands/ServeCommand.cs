using System.CommandLine;
using Isola.Server;
using Microsoft.AspNetCore.Builder;

namespace Isola.Cli.Commands;

/// <summary><c>isola serve</c>: the API server (SQLite under ./.isola by default, or PostgreSQL).</summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var store = new Option<string>("--store")
        {
            Description = "A SQLite file, or a PostgreSQL connection string (Host=...;Database=...;Username=...)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("ISOLA_STORE") ?? ".isola/isola.db",
        };
        var urls = new Option<string>("--urls") { Description = "Where to listen", DefaultValueFactory = _ => "http://127.0.0.1:8780" };
        var vlans = new Option<string[]>("--vlan-range") { Description = "VLANs networks get when none is given: physnet:first:last (repeatable)" };
        var vnis = new Option<string[]>("--vni-range") { Description = "VXLAN VNIs networks get: first:last (repeatable)" };
        var command = new Command("serve", "Run the Isola API server") { store, urls, vlans, vnis };
        command.SetAction(async (parse, ct) =>
        {
            var settings = new ServerSettings(parse.GetValue(store)!, parse.GetValue(urls)!, parse.GetValue(vlans), parse.GetValue(vnis));
            var started = await IsolaServer.BuildAsync(settings);
            await started.App.StartAsync(ct);
            console.Out.WriteLine($"isola API on {string.Join(", ", started.App.Urls)} (store: {settings.Store})");
            if (started.InitialAdminSecret is { } secret)
                console.Out.WriteLine($"admin token (shown once, stored hashed): {secret}");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            await started.App.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;
        });
        return command;
    }
}
