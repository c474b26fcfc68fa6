using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Server;
using Isola.Server.Settings;
using Microsoft.AspNetCore.Builder;

namespace Isola.Cli.Local;

/// <summary>What <c>isola up</c> starts.</summary>
/// <param name="Directory">Working directory: the store, the simulated hosts' trees, the agents' state.</param>
/// <param name="Libvirt">This machine as the one host (its libvirtd, QEMU and Open vSwitch), instead of simulated hosts.</param>
public sealed record LocalCloudOptions(string Directory = ".isola", int Hosts = 2, string Profile = "x710-2s", string Urls = "http://127.0.0.1:8780",
    TimeSpan? Resync = null, bool Libvirt = false);

/// <summary>A host with its agent: simulated (<paramref name="Simulation"/>), or this machine (null).</summary>
public sealed record LocalHost(string Name, string Root, HostTopology Inventory, SimulatedHost? Simulation, HostAgent Agent);

/// <summary>
/// Isola on one machine: the API server on 127.0.0.1 with SQLite under the working directory, and N
/// simulated hosts, each a generated sysfs tree discovered like a real one, with a real agent that talks
/// to the server over HTTP and drives a simulated NIC and libvirt. Example flavors and networks are made
/// on first start. The admin token is kept in <c>admin-token</c> (mode 600) so later starts can print it.
/// </summary>
public sealed class LocalCloud : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _agents = [];
    private MachineDaemons? _daemons;

    private LocalCloud(WebApplication app, string url, string adminToken, IReadOnlyList<LocalHost> hosts)
    {
        App = app;
        Url = url;
        AdminToken = adminToken;
        Hosts = hosts;
    }

    public WebApplication App { get; }

    public string Url { get; }

    public string AdminToken { get; }

    public IReadOnlyList<LocalHost> Hosts { get; }

    /// <exception cref="ListenException">The API cannot listen at <see cref="LocalCloudOptions.Urls"/>; nothing was made.</exception>
    /// <exception cref="LocalCloudException">The directory cannot be used as it is.</exception>
    public static async Task<LocalCloud> StartAsync(LocalCloudOptions options, Action<string>? progress = null, CancellationToken ct = default)
    {
        var hw = ProfileCatalog.Get(options.Profile);
        Directory.CreateDirectory(options.Directory);
        // This machine as the host: its libvirtd and Open vSwitch first (started here when they do not answer).
        var daemons = options.Libvirt ? await MachineDaemons.StartAsync(options.Directory, progress, ct) : null;
        StartedServer started;
        try
        {
            started = await IsolaServer.StartAsync(new ServerSettings(Path.Join(options.Directory, "isola.db"), options.Urls,
                VlanRanges: ["physnet2:100:199"], VniRanges: ["5000:5999"]), ct: ct);
        }
        catch
        {
            if (daemons is not null)
                await daemons.DisposeAsync();
            throw;
        }
        try
        {
            var cloud = await StartAsync(options, hw, started, progress, ct);
            cloud._daemons = daemons;
            return cloud;
        }
        catch
        {
            await started.App.StopAsync(CancellationToken.None);
            await started.App.DisposeAsync();
            if (daemons is not null)
                await daemons.DisposeAsync();
            throw;
        }
    }

    private static async Task<LocalCloud> StartAsync(LocalCloudOptions options, HardwareProfile hw, StartedServer started, Action<string>? progress, CancellationToken ct)
    {
        var url = started.App.Urls.First();
        var tokenFile = Path.Join(options.Directory, "admin-token");
        if (started.InitialAdminSecret is { } secret)
        {
            await File.WriteAllTextAsync(tokenFile, secret + "\n", ct);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var admin = File.Exists(tokenFile) ? (await File.ReadAllTextAsync(tokenFile, ct)).Trim()
            : throw new LocalCloudException($"{options.Directory} has a store but no admin-token file: make a new admin token with " +
                $"'isola token reset-admin --store {Path.Join(options.Directory, "isola.db")} -f value -c secret > {tokenFile}', or start with an empty directory");
        using var api = Client(url, admin);

        var hosts = new List<LocalHost>();
        for (var i = 1; i <= (options.Libvirt ? 0 : options.Hosts); i++)
        {
            var name = $"{hw.Hostname}-{i}";
            var root = Path.Join(options.Directory, "hosts", name);
            if (!File.Exists(Path.Join(root, SysfsTreeWriter.HostConfigPath)))
                SysfsTreeWriter.Write(ProfileExpander.Expand(hw, name), hw.HostConfig, root, replace: true);
            var config = HostConfigFile.Load(Path.Join(root, SysfsTreeWriter.HostConfigPath)).ToConfig();
            var inventory = await new HostDiscovery(root, CommandRunners.ForRoot(root), config).DiscoverAsync(ct);
            var (status, token) = await Post(api, "/v1/tokens", new { role = "host", host = name }, ct);
            if (status != 201)
                throw new InvalidOperationException($"could not make a host token for {name}: {status}");
            var simulation = new SimulatedHost(inventory, root);
            // The operator's part on a real host: a bridge per physical network, holding its NIC.
            foreach (var bridge in SimulatedLayout.BridgeMappings.Values)
                simulation.Ovs.AddBridge(bridge);
            var state = Path.Join(options.Directory, "agents", name);
            // Tunnel endpoints from TEST-NET-2 (RFC 5737): simulated hosts send nothing anywhere.
            var client = ControllerClient.Create(new Uri(url), token.GetProperty("secret").GetString()!, name, $"198.51.100.{i}");
            // Images come from the controller, as on a real host.
            var agent = new HostAgent(inventory, client, new HostDriver(simulation, root, state, instancesDirectory: inventory.Virt.InstancesDirectory, images: client),
                new AppliedStore(state), TimeProvider.System)
            {
                Resync = options.Resync ?? TimeSpan.FromSeconds(10),
                Ovs = new OvsCycle(new OvsDriver(simulation, state), SimulatedLayout),
            };
            await agent.RegisterAsync(ct);
            hosts.Add(new LocalHost(name, root, inventory, simulation, agent));
            progress?.Invoke($"host {name}: {inventory.Cpus.Count} CPUs, {inventory.Devices.Sum(d => d.AssignableVfs.Count())} VFs, agent registered");
        }
        if (options.Libvirt)
            hosts.Add(await ThisMachineAsync(options, api, url, progress, ct));
        await ExamplesAsync(api, ct);
        var cloud = new LocalCloud(started.App, url, admin, hosts);
        foreach (var host in hosts)
            cloud._agents.Add(Task.Run(() => host.Agent.RunAsync(cloud._stop.Token), CancellationToken.None));
        return cloud;
    }

    /// <summary>
    /// This machine as the one host: discovered at /, its domain type <c>kvm</c> only when a KVM guest boots here (else QEMU's
    /// translator), its agent on the machine's libvirtd and Open vSwitch (userspace datapath, br-int; no physical networks: it
    /// has no SR-IOV NIC, so a server asking for a VF is refused by placement, naming why). Only the server's facets run: the
    /// host-wide ones (irqbalance's banned CPUs, systemd's CPU affinity) would rewrite this machine's own configuration.
    /// </summary>
    private static async Task<LocalHost> ThisMachineAsync(LocalCloudOptions options, HttpClient api, string url, Action<string>? progress, CancellationToken ct)
    {
        var discovered = await new HostDiscovery("/", CommandRunners.ForRoot("/"), HostConfig.Empty).DiscoverAsync(ct);
        var type = HostVirtualization.Qemu;
        if (discovered.Virt.DomainType == HostVirtualization.Kvm)
        {
            progress?.Invoke("/dev/kvm is there; trying a KVM guest (at most 30 s) ...");
            type = await Isola.Host.Boot.KvmProbe.KvmBootsAsync(ct: ct) == false ? HostVirtualization.Qemu : HostVirtualization.Kvm;
        }
        var instances = Path.GetFullPath(Path.Join(options.Directory, "instances"));
        var inventory = Isola.Cli.Commands.AgentCommand.WithVirtualization(discovered, instances, type);
        var name = inventory.Hostname;
        var (status, token) = await Post(api, "/v1/tokens", new { role = "host", host = name }, ct);
        if (status != 201)
            throw new InvalidOperationException($"could not make a host token for {name}: {status}");
        var state = Path.GetFullPath(Path.Join(options.Directory, "agents", name));
        var client = ControllerClient.Create(new Uri(url), token.GetProperty("secret").GetString()!, name, "127.0.0.1");
        var runner = new ProcessCommandRunner();
        var agent = new HostAgent(inventory, client, new HostDriver(runner, "/", state, MachineDaemons.LibvirtUri, instances, images: client),
            new AppliedStore(state), TimeProvider.System)
        {
            Facets = Isola.Agent.Facets.HostFacets.All.Where(f => f is not (Isola.Agent.Facets.IrqbalanceFacet or Isola.Agent.Facets.CpuIsolationFacet)).ToList(),
            Resync = options.Resync ?? TimeSpan.FromSeconds(2),
            Ovs = new OvsCycle(new OvsDriver(runner, state, "netdev"), Isola.Rendering.Flows.OvsLayout.Parse("br-int", null)),
        };
        await agent.RegisterAsync(ct);
        progress?.Invoke($"host {name} (this machine): {inventory.Cpus.Count} CPUs, {type} domains, instances in {instances}, agent registered");
        return new LocalHost(name, "/", inventory, null, agent);
    }

    /// <summary>The simulated hosts' Open vSwitch: br-int, and physnet2 (the examples' VLAN network) on br-physnet2.</summary>
    private static readonly Isola.Rendering.Flows.OvsLayout SimulatedLayout = Isola.Rendering.Flows.OvsLayout.Parse("br-int", "physnet2:br-physnet2");

    /// <summary>The examples the demo uses: a project, flavors for both scenarios, a shared VLAN and an internal VXLAN network with a subnet.</summary>
    private static async Task ExamplesAsync(HttpClient api, CancellationToken ct)
    {
        await Post(api, "/v1/projects", new { name = "demo" }, ct);
        await Post(api, "/v1/flavors", new
        {
            name = "game.small", vcpus = 2, ram = 2048, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        }, ct);
        await Post(api, "/v1/flavors", new
        {
            name = "nfv.medium", vcpus = 4, ram = 4096, disk = 20,
            extraSpecs = new Dictionary<string, string>
            {
                ["hw:cpu_policy"] = "dedicated", ["hw:emulator_threads_policy"] = "isolate",
                ["hw:mem_page_size"] = "1GB", ["hw:pci_numa_affinity_policy"] = "required",
            },
        }, ct);
        await Post(api, "/v1/networks", new { name = "ext", type = "vlan", physnet = "physnet2", segment = 100, shared = true, project = "demo" }, ct);
        await Post(api, "/v1/networks", new { name = "internal", type = "vxlan", project = "demo" }, ct);
        await Post(api, "/v1/subnets", new { name = "internal-v4", network = "internal", cidr = "10.20.0.0/24", project = "demo" }, ct);
        // Small enough for a laptop's real VMs (isola up --libvirt).
        await Post(api, "/v1/flavors", new { name = "tiny", vcpus = 1, ram = 256, disk = 1 }, ct);
    }

    private static HttpClient Client(string url, string token)
    {
        var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<(int Status, JsonElement Body)> Post(HttpClient api, string path, object body, CancellationToken ct)
    {
        using var response = await api.PostAsJsonAsync(path, body, IsolaJson.Options, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_agents);
        }
        catch (OperationCanceledException)
        {
            // an agent stopped while it waited to register
        }
        finally
        {
            // The server stops even when an agent failed: its sweeps must not outlive the cloud.
            await App.StopAsync();
            await App.DisposeAsync();
            _stop.Dispose();
            if (_daemons is not null)
                await _daemons.DisposeAsync();
        }
    }
}
