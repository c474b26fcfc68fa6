using System.Diagnostics;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Rendering.Flows;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Ovs.Traffic;

/// <summary>One simulated host: its namespace, its own ovs-vswitchd inside it and the agent's Open vSwitch cycle against that switch.</summary>
internal sealed record SimulatedOvsHost(TrafficHostSpec Spec, string Namespace, OvsSwitch Ovs, OvsCycle Cycle);

/// <summary>
/// The hosts and VMs of <see cref="TrafficScenario"/> as network namespaces, shared by the traffic
/// tests. The fixture does only what an operator and libvirt would: namespaces, the underlay wire,
/// br-phy with the tunnel address on its internal port, each VM's veth plugged into br-int under the
/// tap name Isola expects, checksum offload off in the VMs. Isola's agent (<see cref="OvsCycle"/>
/// with an <see cref="OvsDriver"/> on the netdev datapath) creates br-int, the tunnels, the flows and
/// the meters. Everything goes at the end, also when setting up failed.
/// </summary>
public sealed class TrafficWorld : IAsyncLifetime
{
    private readonly NetworkLab _lab = new();
    private readonly TempDir _dir = new();
    private readonly Dictionary<string, SimulatedOvsHost> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _vmNamespaces = new(StringComparer.Ordinal);
    private readonly List<string> _log = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    internal NetworkLab Lab => _lab;

    /// <summary>What setting up did, with the time of each step.</summary>
    public IReadOnlyList<string> SetupLog => _log;

    internal SimulatedOvsHost Host(string name) => _hosts[name];

    internal string NamespaceOf(TrafficVm vm) => _vmNamespaces[vm.Name];

    public async Task InitializeAsync()
    {
        try
        {
            await SetUpAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task SetUpAsync()
    {
        if (!Environment.IsPrivilegedProcess)
            throw new InvalidOperationException("the traffic tests create network namespaces and veths: run them as root");
        foreach (var spec in TrafficScenario.Hosts)
        {
            var ns = await _lab.AddNamespaceAsync("h" + spec.Name);
            var ovs = new OvsSwitch(ns);
            var cycle = new OvsCycle(new OvsDriver(ovs.Runner, _dir.Sub("agent-" + spec.Name), "netdev"), OvsLayout.Default);
            _hosts[spec.Name] = new SimulatedOvsHost(spec, ns, ovs, cycle);
        }
        var (a, b) = (_hosts["a"], _hosts["b"]);
        // The underlay: one wire between the hosts, room for a full VM frame plus VXLAN's 50 bytes.
        await NetworkLab.MustAsync("ip", "link", "add", a.Spec.Underlay, "netns", a.Namespace, "mtu", "1600", "type", "veth",
            "peer", "name", b.Spec.Underlay, "netns", b.Namespace, "mtu", "1600");
        foreach (var host in _hosts.Values)
        {
            await NetworkLab.MustAsync("ip", "-n", host.Namespace, "link", "set", host.Spec.Underlay, "up");
            await host.Ovs.InitializeAsync();
            await host.Ovs.Vsctl("add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev", "--", "add-port", "br-phy", host.Spec.Underlay);
            await NetworkLab.MustAsync("ip", "-n", host.Namespace, "addr", "add", host.Spec.TunnelIp + "/24", "dev", "br-phy");
            await NetworkLab.MustAsync("ip", "-n", host.Namespace, "link", "set", "br-phy", "up");
            Log($"host {host.Spec.Name}: namespace {host.Namespace}, ovs-vswitchd in it ({host.Ovs.Directory}), br-phy {host.Spec.TunnelIp}");

            // The agent's first cycle: the VMs' taps are not there yet (no domain started).
            var first = await host.Cycle.RunAsync(TrafficScenario.StateOf(host.Spec.Name), default);
            Assert.Empty(first.Failures);
            Assert.Contains(first.Done, s => s is OvsStep.EnsureBridge);
            Assert.Contains(first.Done, s => s is OvsStep.AddTunnel);
            Assert.Empty(first.ReadyTaps);
            Log($"host {host.Spec.Name}: agent cycle 1: {Describe(first)}");
        }

        foreach (var vm in TrafficScenario.Vms)
            await StartVmAsync(vm, _hosts[vm.Host]);

        foreach (var host in _hosts.Values)
        {
            var state = TrafficScenario.StateOf(host.Spec.Name);
            var second = await host.Cycle.RunAsync(state, default);
            Assert.Empty(second.Failures);
            Assert.Equal(state.Ports.Select(p => p.Device).Order(StringComparer.Ordinal), second.ReadyTaps.Order(StringComparer.Ordinal));
            Log($"host {host.Spec.Name}: agent cycle 2: {Describe(second)}");
            var third = await host.Cycle.RunAsync(state, default);
            Assert.True(third.Done.Count == 0 && third.Failures.Count == 0, $"a third cycle still changed something: {Describe(third)}");
        }
        Log("ready");
    }

    /// <summary>"libvirt": the VM's namespace, its eth0 with the port's MAC and address, the tap end in the host's namespace on br-int.</summary>
    private async Task StartVmAsync(TrafficVm vm, SimulatedOvsHost host)
    {
        var ns = await _lab.AddNamespaceAsync(vm.Name);
        _vmNamespaces[vm.Name] = ns;
        var tap = vm.Port.Device;
        Assert.Equal(TapNames.Of(vm.Port.Id), tap);
        await NetworkLab.MustAsync("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", tap, "netns", host.Namespace);
        await NetworkLab.MustAsync("ip", "-n", ns, "link", "set", "eth0", "address", vm.Mac);
        await NetworkLab.MustAsync("ip", "-n", ns, "addr", "add", vm.Ip + "/24", "dev", "eth0");
        // A veth hands TCP segments over with a partial checksum; read from the tap by the userspace
        // datapath they would reach the other VM with a wrong one (FACTS.md §6). Virtio guests fill it in.
        await _lab.MustExecAsync(ns, "ethtool", "-K", "eth0", "tx", "off");
        await NetworkLab.MustAsync("ip", "-n", ns, "link", "set", "eth0", "up");
        await NetworkLab.MustAsync("ip", "-n", host.Namespace, "link", "set", tap, "up");
        await host.Ovs.Vsctl("add-port", "br-int", tap, "--", "set", "Interface", tap,
            $"external_ids:iface-id={vm.Port.Id}", $"external_ids:attached-mac={vm.Mac}", "external_ids:iface-status=active");
        Log($"vm {vm.Name}: namespace {ns}, {vm.Ip} {vm.Mac}, {tap} on br-int of host {host.Spec.Name}");
    }

    public async Task DisposeAsync()
    {
        // The switches first (their namespaces still there for --cleanup), then processes and namespaces.
        foreach (var host in _hosts.Values)
            await host.Ovs.DisposeAsync();
        _hosts.Clear();
        await _lab.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>What each switch holds and complained about, for a failing test's output.</summary>
    public async Task<string> DiagnosticsAsync()
    {
        var text = new System.Text.StringBuilder();
        foreach (var host in _hosts.Values)
        {
            text.AppendLine($"==== host {host.Spec.Name} ({host.Namespace})");
            foreach (var argv in new[]
                     {
                         new[] { "ovs-vsctl", "show" },
                         ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int"],
                         ["ovs-ofctl", "-O", "OpenFlow13", "meter-stats", "br-int"],
                         ["ovs-appctl", "tnl/neigh/show"],
                     })
            {
                var result = await host.Ovs.Runner.RunAsync(argv);
                text.AppendLine($"$ {string.Join(' ', argv)} (exit {result.ExitCode})").AppendLine(result.StandardOutput).AppendLine(result.StandardError);
            }
            var log = Path.Join(host.Ovs.Directory, "ovs-vswitchd.log");
            if (File.Exists(log))
                foreach (var line in File.ReadLines(log).Where(l => l.Contains("|WARN|", StringComparison.Ordinal) || l.Contains("|ERR|", StringComparison.Ordinal)).TakeLast(20))
                    text.AppendLine(line);
        }
        return text.ToString();
    }

    private void Log(string line) => _log.Add($"[{_clock.Elapsed.TotalSeconds,5:0.00}s] {line}");

    private static string Describe(OvsCycleResult result) =>
        $"{result.Done.Count} steps ({string.Join(", ", result.Done.GroupBy(s => s.GetType().Name).Select(g => $"{g.Key} ×{g.Count()}"))}), ready: [{string.Join(' ', result.ReadyTaps.Order(StringComparer.Ordinal))}]";
}
