using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli.Client;

/// <summary>A real API server on a SQLite file with simulated hosts registered, and the CLI run in-process against it.</summary>
internal sealed class ClientWorld : IAsyncDisposable
{
    private readonly TempDir _dir;

    private ClientWorld(TempDir dir, ApiServer server)
    {
        _dir = dir;
        Server = server;
    }

    public ApiServer Server { get; }

    public string AdminToken => Server.AdminSecret!;

    public string Dir => _dir.Path;

    /// <summary>A server with <paramref name="hosts"/> 16-CPU hosts (two cells, an X710 on physnet2 in cell 0) in zone az1, registered as an agent does.</summary>
    /// <param name="configure">Changes to the server's settings (e.g. a small MaxImageBytes).</param>
    public static async Task<ClientWorld> StartAsync(int hosts = 1, Func<Isola.Server.Settings.ServerSettings, Isola.Server.Settings.ServerSettings>? configure = null)
    {
        var dir = new TempDir();
        var world = new ClientWorld(dir, await ApiServer.StartAsync(dir.Sub("isola.db"), configure: configure));
        try
        {
            using var admin = world.Server.Client(world.AdminToken);
            for (var i = 1; i <= hosts; i++)
            {
                var host = new HostBuilder($"h{i}").Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4, ports: 2, model: "intel-x710").Build();
                var (status, _) = await admin.Send(HttpMethod.Put, $"/v1/hosts/h{i}?zone=az1", InventoryDocument.Of(host).ToJson());
                Assert.Equal(204, status);
            }
            return world;
        }
        catch
        {
            await world.DisposeAsync();
            throw;
        }
    }

    /// <summary>The CLI with the admin token.</summary>
    public Task<(int Exit, string Out, string Err)> Run(params string[] args) => RunAs(AdminToken, args);

    public Task<(int Exit, string Out, string Err)> RunAs(string token, params string[] args) =>
        CliRunner.Run([.. args, "--url", Server.Url, "--token", token]);

    /// <summary>Runs a verb with -f json, expects it to succeed, and returns the document it printed.</summary>
    public async Task<JsonElement> Json(params string[] args)
    {
        var (exit, output, error) = await Run([.. args, "-f", "json"]);
        Assert.True(exit == 0, $"isola {string.Join(' ', args)} exited {exit}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>A project and a member token for it, made with the CLI.</summary>
    public async Task<string> MemberOf(string project)
    {
        await Json("project", "create", project);
        return (await Json("token", "create", "--role", "member", "--project", project)).GetProperty("secret").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}
