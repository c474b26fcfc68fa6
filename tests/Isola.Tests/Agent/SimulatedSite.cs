using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>
/// What the agent end-to-end tests start from: a real API server on SQLite, its admin, a simulated X710 host
/// sim1 (its tree under <c>root</c>) with a host token, project p, the pinned flavor nfv (2 vCPUs, 1 GiB
/// pages) and p's VLAN network lan on physnet2. <see cref="Agent"/> makes sim1's agent over one state directory.
/// </summary>
public sealed class SimulatedSite : IAsyncDisposable
{
    private SimulatedSite(TempDir dir, ApiServer server, SimulatedHost host, string agentToken)
    {
        (Dir, Server, Host, AgentToken) = (dir, server, host, agentToken);
        Admin = server.Client(server.AdminSecret);
    }

    public TempDir Dir { get; }

    public ApiServer Server { get; }

    public HttpClient Admin { get; }

    public SimulatedHost Host { get; }

    public string AgentToken { get; }

    public static async Task<SimulatedSite> StartAsync()
    {
        var dir = new TempDir();
        var server = await ApiServer.StartAsync(dir.Sub("isola.db"));
        var admin = server.Client(server.AdminSecret);
        var host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, dir.Sub("root"));
        var token = (await admin.Post("/v1/tokens", new { role = "host", host = "sim1" })).Body.Str("secret");
        await admin.Post("/v1/projects", new { name = "p" });
        await admin.Post("/v1/flavors", new
        {
            name = "nfv", vcpus = 2, ram = 2048, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        await admin.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100, project = "p" });
        return new SimulatedSite(dir, server, host, token);
    }

    /// <summary>An agent for sim1; a new one over the same state directory is the same agent restarted.</summary>
    public HostAgent Agent() =>
        new(Host.Host, ControllerClient.Create(new Uri(Server.Url), AgentToken, "sim1"), new HostDriver(Host, Dir.Sub("root"), Dir.Sub("agent")),
            new AppliedStore(Dir.Sub("agent")), TimeProvider.System)
        { Resync = TimeSpan.FromSeconds(1) };

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Dir.Dispose();
    }
}

/// <summary>A test class that starts from a <see cref="SimulatedSite"/>; <see cref="SetUpAsync"/> adds what the class needs.</summary>
public abstract class SimulatedSiteTest : IAsyncLifetime
{
    protected SimulatedSite Site { get; private set; } = null!;

    protected ApiServer Server => Site.Server;

    protected HttpClient Admin => Site.Admin;

    protected SimulatedHost Host => Site.Host;

    protected string AgentToken => Site.AgentToken;

    protected TempDir Dir => Site.Dir;

    public async Task InitializeAsync()
    {
        Site = await SimulatedSite.StartAsync();
        await SetUpAsync();
    }

    /// <summary>The class's own start, after the site's.</summary>
    protected virtual Task SetUpAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Site.DisposeAsync();

    /// <summary>An agent for sim1; a new one over the same state directory is the same agent restarted.</summary>
    protected HostAgent Agent() => Site.Agent();
}
