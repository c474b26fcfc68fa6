using Isola.Agent.Driver;
using Isola.Rendering.Flows;

namespace Isola.Agent.Reconcile;

/// <summary>One thing to do on Open vSwitch.</summary>
public abstract record OvsStep
{
    public sealed record EnsureBridge(string Bridge) : OvsStep;
    public sealed record AddTunnel(string Bridge, TunnelPort Tunnel, string? Replacing) : OvsStep;
    public sealed record AddPatch(string Bridge, PatchPair Patch) : OvsStep;
    /// <summary>A tunnel or patch port nothing needs any more (its last peer or VLAN port went).</summary>
    public sealed record DeletePort(string Bridge, string Port) : OvsStep;
    /// <summary>The bridge's whole table; <see cref="Drift"/> says why when the bridge held something else than the last table written.</summary>
    public sealed record ReplaceFlows(string Bridge, IReadOnlyList<string> Flows, string? Drift) : OvsStep;
    public sealed record SetMeter(string Bridge, Meter Meter, bool Exists) : OvsStep;
    public sealed record DeleteMeter(string Bridge, int Id) : OvsStep;
    /// <summary>Connections of an address no port here has any more (its port went): forgotten, so a new port given the address inherits none.</summary>
    public sealed record ForgetConnections(int Zone, string Address, int Count) : OvsStep;
}

/// <summary>
/// The Open vSwitch half of the agent's decisions, pure like <see cref="Reconciler"/>. In two
/// phases because flows name ports by number and a port has its number only once it is on the
/// bridge: <see cref="PortSteps"/> (bridge, tunnels to exactly the peers in use, patches, and the
/// removal of those no longer needed), then, with the numbers read again, <see cref="FlowSteps"/>
/// (each bridge's table when it differs, and the meters).
/// </summary>
public static class OvsReconciler
{
    public static IReadOnlyList<OvsStep> PortSteps(HostNetworkState desired, OvsLayout layout, OvsActual actual)
    {
        var steps = new List<OvsStep>();
        var bridge = layout.IntegrationBridge;
        // A host without virtio ports and without a bridge needs no Open vSwitch at all.
        if (!actual.Bridges.Contains(bridge))
        {
            if (desired.Ports.Count == 0)
                return steps;
            steps.Add(new OvsStep.EnsureBridge(bridge));
        }
        var ports = FlowPipeline.Ports(desired, layout);
        var onBridge = actual.BridgePorts.GetValueOrDefault(bridge) ?? [];
        foreach (var tunnel in ports.Tunnels)
        {
            var now = actual.Interfaces.GetValueOrDefault(tunnel.Name);
            if (now is null || !onBridge.Contains(tunnel.Name))
                steps.Add(new OvsStep.AddTunnel(bridge, tunnel, null));
            else if (now.Type != tunnel.Type || now.Options.GetValueOrDefault("remote_ip") != tunnel.RemoteIp
                     || now.Options.GetValueOrDefault("local_ip") != tunnel.LocalIp || now.Options.GetValueOrDefault("key") != "flow")
            {
                // --may-exist does not change an existing port: take it out and put it back.
                steps.Add(new OvsStep.DeletePort(bridge, tunnel.Name));
                steps.Add(new OvsStep.AddTunnel(bridge, tunnel, $"{tunnel.Name}: {now.Type} to {now.Options.GetValueOrDefault("remote_ip")} from {now.Options.GetValueOrDefault("local_ip")}"));
            }
        }
        foreach (var patch in ports.Patches)
        {
            if (!onBridge.Contains(patch.IntegrationPort) || !(actual.BridgePorts.GetValueOrDefault(patch.PhysicalBridge)?.Contains(patch.PhysicalPort) ?? false))
                steps.Add(new OvsStep.AddPatch(bridge, patch));
        }
        // Tunnels and patches Isola made that nothing needs: the peer or the physical network's last port went.
        var tunnels = ports.Tunnels.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var patches = ports.Patches.ToDictionary(p => p.IntegrationPort, StringComparer.Ordinal);
        foreach (var port in onBridge.Order(StringComparer.Ordinal))
        {
            var type = actual.Interfaces.GetValueOrDefault(port)?.Type;
            if (type is "vxlan" or "gre" && IsIsolaTunnel(port) && !tunnels.Contains(port))
                steps.Add(new OvsStep.DeletePort(bridge, port));
            if (type == "patch" && port.StartsWith("int-", StringComparison.Ordinal) && !patches.ContainsKey(port))
            {
                steps.Add(new OvsStep.DeletePort(bridge, port));
                var peer = actual.Interfaces.GetValueOrDefault(port)?.Options.GetValueOrDefault("peer");
                var physical = actual.BridgePorts.FirstOrDefault(b => b.Key != bridge && peer is not null && b.Value.Contains(peer)).Key;
                if (physical is not null)
                    steps.Add(new OvsStep.DeletePort(physical, peer!));
            }
        }
        return steps;
    }

    /// <summary>The tables of the bridges that differ (<paramref name="inSync"/>: per bridge, whether it holds the plan's table) and the meters.</summary>
    public static IReadOnlyList<OvsStep> FlowSteps(OvsPlan plan, OvsLayout layout, IReadOnlyDictionary<string, bool> inSync, OvsActual actual,
        IReadOnlyDictionary<string, ulong>? lastCookies = null)
    {
        var steps = new List<OvsStep>();
        // Meters before the flows that use them; unused meters after the flows that used them are gone.
        var meters = actual.Meters.ToDictionary(m => m.Id);
        foreach (var meter in plan.Meters)
        {
            if (meters.GetValueOrDefault(meter.Id) is { } now && now == meter)
                continue;
            steps.Add(new OvsStep.SetMeter(layout.IntegrationBridge, meter, meters.ContainsKey(meter.Id)));
        }
        foreach (var bridge in plan.Bridges)
        {
            if (inSync.GetValueOrDefault(bridge.Bridge))
                continue;
            // The table written last carried the same cookie: someone changed it behind the agent's back.
            var drift = lastCookies?.GetValueOrDefault(bridge.Bridge) == plan.Cookie ? $"{bridge.Bridge}: flow table changed (cookie 0x{plan.Cookie:x})" : null;
            steps.Add(new OvsStep.ReplaceFlows(bridge.Bridge, bridge.Flows, drift));
        }
        var wanted = plan.Meters.Select(m => m.Id).ToHashSet();
        foreach (var stale in actual.Meters.Where(m => !wanted.Contains(m.Id)).OrderBy(m => m.Id))
            steps.Add(new OvsStep.DeleteMeter(layout.IntegrationBridge, stale.Id));
        return steps;
    }

    /// <summary>Tunnel ports Isola names: vxlan-/gre- and 8 hex digits.</summary>
    public static bool IsIsolaTunnel(string name)
    {
        var dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && name[..dash] is "vxlan" or "gre" && name.Length - dash - 1 == 8 && name[(dash + 1)..].All(Uri.IsHexDigit);
    }
}
