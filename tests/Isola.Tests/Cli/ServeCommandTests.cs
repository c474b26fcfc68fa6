using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Cli;
using Isola.Store;
using Isola.Store.Resources;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

/// <summary><c>isola serve</c>: settings from its config file, a clear end when it cannot listen, and <c>isola token reset-admin</c> on its store.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private string Store => _dir.Sub("isola.db");

    /// <summary>Runs serve until the test stops it; answers its URL, the admin token it printed (if it made one) and the run.</summary>
    private static async Task<(string Url, string? Token, Task<int> Run)> Serve(CancellationToken stop, params string[] args)
    {
        var output = new WatchedWriter();
        var run = CliApp.RunAsync(["serve", .. args], new CliConsole(output, new StringWriter(), interactive: false), stop);
        // Its last line when it is up.
        var text = await output.WaitForAsync("Ctrl-C stops the server.", run);
        var url = Regex.Match(text, @"isola API on (http://127\.0\.0\.1:\d+)").Groups[1].Value;
        var token = Regex.Match(text, @"admin token \(shown once, stored hashed\): (isola_\S+)") is { Success: true } m ? m.Groups[1].Value : null;
        return (url, token, run);
    }

    private static HttpClient Client(string url, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    [Fact]
    public async Task A_taken_address_is_one_line_and_makes_no_admin_token_and_the_next_start_prints_it()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var address = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var (exit, output, error) = await CliRunner.Run("serve", "--store", Store, "--urls", address);
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal($"isola: cannot listen on {address}: the address is in use (another process listens there); choose another with --urls",
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("", output);
        Assert.False(await new ResourceStore(StoreConnectionFactory.Sqlite(Store), TimeProvider.System).Tokens.AnyAdminAsync());

        using var stop = new CancellationTokenSource();
        var (url, token, run) = await Serve(stop.Token, "--store", Store, "--urls", "http://127.0.0.1:0");
        Assert.NotNull(token);
        using var admin = Client(url, token);
        Assert.Equal(200, (await admin.Get("/v1/tokens")).Status);
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);

        // An address that is not this host's is a wrong --urls: exit 2, one line.
        var foreign = await CliRunner.Run("serve", "--store", Store, "--urls", "http://192.0.2.1:8780");
        Assert.Equal(ExitCodes.Usage, foreign.Exit);
        Assert.StartsWith("isola: cannot listen on http://192.0.2.1:8780: ", Assert.Single(foreign.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_takes_its_settings_from_the_config_file_and_flags_win()
    {
        var config = _dir.Sub("isola.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            Isola = new { Store, Urls = "http://127.0.0.1:1", GreRanges = new[] { "7000:7001" }, BuildTimeoutSeconds = 900 },
        }));
        using var stop = new CancellationTokenSource();
        // The file's Urls (port 1) is overridden by the flag; its store and GRE range are used.
        var (url, token, run) = await Serve(stop.Token, "--config", config, "--urls", "http://127.0.0.1:0");
        Assert.True(File.Exists(Store));
        using var admin = Client(url, token!);
        await admin.Post("/v1/projects", new { name = "p" });
        var (_, gre) = await admin.Post("/v1/networks", new { name = "g", type = "gre", project = "p" });
        Assert.Equal(7000, gre.GetProperty("segment").GetInt64());
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);

        var wrong = await CliRunner.Run("serve", "--config", config, "--build-timeout", "forever", "--vlan-range", "physnet2:1");
        Assert.Equal(ExitCodes.Usage, wrong.Exit);
        Assert.Equal(["isola: --vlan-range: 'physnet2:1' is not physnet:first:last (e.g. physnet2:100:199)",
            "isola: --build-timeout: 'forever' is not a whole number of seconds 1-86400"], wrong.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Reset_admin_prints_a_new_admin_token_once_and_the_old_one_stops_working()
    {
        using var stop = new CancellationTokenSource();
        var (url, old, run) = await Serve(stop.Token, "--store", Store, "--urls", "http://127.0.0.1:0");
        using var admin = Client(url, old!);
        await admin.Post("/v1/projects", new { name = "p" });
        var (_, member) = await admin.Post("/v1/tokens", new { role = "member", project = "p" });
        await admin.Post("/v1/tokens", new { role = "admin" });

        // Straight on the store, while the server runs: every admin token but the new one is gone at once.
        var (exit, output, error) = await CliRunner.Run("token", "reset-admin", "--store", Store, "-f", "json");
        Assert.True(exit == ExitCodes.Ok, error);
        var reset = JsonDocument.Parse(output).RootElement;
        Assert.Equal(("admin", 2), (reset.Str("role"), reset.GetProperty("revoked").GetInt32()));
        Assert.Equal(401, (await admin.Get("/v1/tokens")).Status);
        using var fresh = Client(url, reset.Str("secret"));
        var (_, tokens) = await fresh.Get("/v1/tokens");
        Assert.Equal([reset.Str("id")], tokens.EnumerateArray().Where(t => t.Str("role") == "admin").Select(t => t.Str("id")));
        using var memberClient = Client(url, member.Str("secret"));
        Assert.Equal(200, (await memberClient.Get("/v1/networks")).Status);
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);

        // A later start on the store makes no admin token of its own: there is one.
        using var again = new CancellationTokenSource();
        var (_, none, rerun) = await Serve(again.Token, "--store", Store, "--urls", "http://127.0.0.1:0");
        Assert.Null(none);
        await again.CancelAsync();
        await rerun;

        var missing = await CliRunner.Run("token", "reset-admin", "--store", _dir.Sub("nothing.db"));
        Assert.Equal(ExitCodes.Usage, missing.Exit);
        Assert.Contains("no store at", missing.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Sub("nothing.db")));
    }
}
