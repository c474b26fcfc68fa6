using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Isola.Cli;
using Isola.Store;
using Isola.Store.Resources;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

/// <summary><c>isola up</c>: the server and simulated hosts with agents, until interrupted.</summary>
public sealed class UpCommandTests
{
    /// <summary>
    /// Starts <c>isola up</c> and waits (generously, for a loaded machine) until it says it is up; answers its URL, admin token and the run.
    /// Stopped here if it never comes up; the caller stops it (<see cref="StopOnDispose"/>) however its test ends.
    /// </summary>
    private static async Task<(string Url, string Token, Task<int> Run, WatchedWriter Output)> StartUp(string dir, int hosts, CancellationTokenSource stop)
    {
        var output = new WatchedWriter();
        var error = new StringWriter();
        var run = CliApp.RunAsync(["up", "--hosts", $"{hosts}", "--profile", "x710-2s", "--dir", dir, "--urls", "http://127.0.0.1:0"],
            new CliConsole(output, error, interactive: false), stop.Token);
        try
        {
            var text = await output.WaitForAsync("Ctrl-C", run);
            var url = Regex.Match(text, @"isola API on (http://127\.0\.0\.1:\d+)").Groups[1].Value;
            var token = Regex.Match(text, @"admin token: (isola_\S+)").Groups[1].Value;
            Assert.StartsWith("isola_", token, StringComparison.Ordinal);
            return (url, token, run, output);
        }
        catch
        {
            await new StopOnDispose(stop, run).DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Up_serves_the_api_with_agents_until_interrupted()
    {
        using var dir = new TempDir();
        using var stop = new CancellationTokenSource();
        var (url, token, run, output) = await StartUp(dir.Path, 2, stop);
        await using var stopped = new StopOnDispose(stop, run); // a failed assertion stops it too
        Assert.Contains("nfv-x710-2", output.Snapshot(), StringComparison.Ordinal);
        Assert.Equal(token, File.ReadAllText(Path.Join(dir.Path, "admin-token")).Trim());

        using var api = new HttpClient { BaseAddress = new Uri(url) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", token);
        var (_, hosts) = await api.Get("/v1/hosts");
        Assert.Equal(2, hosts.GetArrayLength());
        Assert.Equal(200, (await api.Get("/v1/flavors/nfv.medium")).Status);
        Assert.Equal(200, (await api.Get("/v1/networks/ext")).Status);

        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);
        Assert.True(Directory.Exists(Path.Join(dir.Path, "hosts", "nfv-x710-2", "sys", "bus", "pci", "devices")));
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("up", "--hosts", "0", "--dir", dir.Path)).Exit);
    }

    [Fact]
    public async Task A_taken_address_is_one_line_and_makes_no_token_and_the_next_up_works()
    {
        using var dir = new TempDir();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var address = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var (exit, output, error) = await CliRunner.Run("up", "--hosts", "1", "--dir", dir.Path, "--urls", address);
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal($"isola: cannot listen on {address}: the address is in use (another process listens there); choose another with --urls",
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain("isola_", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Join(dir.Path, "admin-token")));
        Assert.False(await new ResourceStore(StoreConnectionFactory.Sqlite(Path.Join(dir.Path, "isola.db")), TimeProvider.System).Tokens.AnyAdminAsync());

        using var stop = new CancellationTokenSource();
        var (url, token, run, _) = await StartUp(dir.Path, 1, stop);
        await using var stopped = new StopOnDispose(stop, run);
        using var api = new HttpClient { BaseAddress = new Uri(url) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", token);
        Assert.Equal(200, (await api.Get("/v1/hosts")).Status);
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);

        // The token file lost: up says how to make a new one, in one line; done that way, up starts again with it.
        File.Delete(Path.Join(dir.Path, "admin-token"));
        var lost = await CliRunner.Run("up", "--hosts", "1", "--dir", dir.Path, "--urls", "http://127.0.0.1:0");
        Assert.Equal(ExitCodes.Failed, lost.Exit);
        Assert.Contains("isola token reset-admin --store", Assert.Single(lost.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        var reset = await CliRunner.Run("token", "reset-admin", "--store", Path.Join(dir.Path, "isola.db"), "-f", "value", "-c", "secret");
        Assert.Equal(ExitCodes.Ok, reset.Exit);
        File.WriteAllText(Path.Join(dir.Path, "admin-token"), reset.Out);
        using var again = new CancellationTokenSource();
        var (_, newToken, rerun, _) = await StartUp(dir.Path, 1, again);
        await using var stoppedAgain = new StopOnDispose(again, rerun);
        Assert.Equal(reset.Out.Trim(), newToken);
        Assert.NotEqual(token, newToken);
        await again.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await rerun);
    }
}
