using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Pci;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Rendering;
using Isola.Rendering.Isolation;
using Isola.Rendering.Vf;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Facets;

/// <summary>
/// One facet against a simulated host (a NIC, libvirt and QEMU answering the real driver's commands,
/// files under a root of its own) with a state directory: read, plan, apply, and look at the host.
/// </summary>
internal sealed class FacetWorld : IDisposable
{
    public const string Domain = "isola-s1";

    private readonly TempDir _dir = new();

    public FacetWorld()
    {
        Host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, _dir.Sub("root"));
        Driver = new HostDriver(Host, Root, State);
        Store = new AppliedStore(State);
        var pf = Host.Host.Devices.First(d => d.NetDev is not null && d.Vfs.Count > 0);
        Vf = new VfSettings("p1", pf.NetDev!, pf.Driver, pf.Address, pf.Vfs[0].Address, pf.Vfs[0].Index,
            VfState.Reset with { Mac = "fa:16:3e:00:00:01", Vlan = 100 });
    }

    public SimulatedHost Host { get; }

    public HostDriver Driver { get; }

    public AppliedStore Store { get; }

    public string Root => _dir.Sub("root");

    public string State => _dir.Sub("agent");

    public AgentHands Hands => new(Driver, Store);

    /// <summary>A VF of the simulated NIC, with settings for port p1.</summary>
    public VfSettings Vf { get; }

    public static DesiredServer Server(HostPlan? plan, string status = "BUILD", string power = "running", string id = "s1") =>
        Wire.Server(id, "vm1", status, power, [new("port-1", "p1", "fa:16:3e:00:00:01", "BOUND")], plan);

    public static DesiredHost Desired(params DesiredServer[] servers) => Wire.Host("sim1", 1, servers);

    public HostPlan Plan(IrqAffinityPlan? irqs = null, HostIsolation? isolation = null) =>
        Wire.Plan(Domain, "00000000-0000-0000-0000-000000000001", $"<domain type='kvm'><name>{Domain}</name><vcpu>2</vcpu></domain>", [Vf], irqs, isolation);

    /// <summary>What the facet reads, after the earlier facets of <see cref="HostFacets.All"/> (the ones it may lean on).</summary>
    public async Task<ActualHost> ReadAsync(IHostFacet facet, DesiredHost desired)
    {
        var applied = Store.Load();
        var earlier = HostFacets.All.TakeWhile(f => f.GetType() != facet.GetType()).Append(facet).ToList();
        return await Reconciler.ReadAsync(earlier, desired, applied, Driver, default);
    }

    /// <summary>The context a server's steps are planned in, from what the host holds now.</summary>
    public async Task<ServerContext> ContextAsync(IHostFacet facet, DesiredHost desired)
    {
        var actual = await ReadAsync(facet, desired);
        var server = desired.Servers[0];
        return ServerContext.Of(server, server.Plan!, Store.Load().GetValueOrDefault(server.Id), actual);
    }

    /// <summary>Writes a file under the host's root.</summary>
    public void HostFile(string path, string content)
    {
        var file = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, content);
    }

    public string? ReadHostFile(string path) => File.Exists(Path.Join(Root, path)) ? File.ReadAllText(Path.Join(Root, path)) : null;

    /// <summary>The commands run since the last call, each as one line.</summary>
    public IReadOnlyList<string> Commands()
    {
        var all = Host.Log.Select(c => string.Join(' ', c)).ToList();
        var fresh = all.Skip(_seen).ToList();
        _seen = all.Count;
        return fresh;
    }

    private int _seen;

    public void Dispose() => _dir.Dispose();
}
