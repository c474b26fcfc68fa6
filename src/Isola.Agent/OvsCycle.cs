using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Rendering.Flows;

namespace Isola.Agent;

/// <summary>What the Open vSwitch part of a cycle did, and which taps have their flows in place.</summary>
public sealed record OvsCycleResult(IReadOnlyList<OvsStep> Done, IReadOnlyList<string> Failures, IReadOnlyList<string> Drift, IReadOnlySet<string> ReadyTaps)
{
    public static OvsCycleResult Nothing { get; } = new([], [], [], new HashSet<string>());
}

/// <summary>
/// The Open vSwitch part of a reconcile cycle: ports first, then (with the port numbers read again)
/// every bridge's flow table compared with the rendered one and replaced when it differs, meters
/// alongside. A failed command ends the part for this cycle; the next cycle starts from what OVS holds.
/// </summary>
public sealed class OvsCycle(OvsDriver driver, OvsLayout layout)
{
    public OvsLayout Layout => layout;

    /// <summary>The last plan rendered, with a fingerprint of the state and port numbers it was rendered from.</summary>
    private (string Key, OvsPlan Plan)? _rendered;

    public async Task<OvsCycleResult> RunAsync(HostNetworkState? desired, CancellationToken ct)
    {
        desired ??= HostNetworkState.Empty;
        var done = new List<OvsStep>();
        var drift = new List<string>();
        var physical = layout.BridgeMappings.Values.ToList();
        try
        {
            var actual = await driver.ReadAsync(layout.IntegrationBridge, physical, ct);
            if (!actual.Present)
                return desired.Ports.Count == 0
                    ? OvsCycleResult.Nothing
                    : new OvsCycleResult([], ["Open vSwitch does not answer (ovs-vsctl list-br failed): virtio ports cannot be plugged"], [], new HashSet<string>());
            var portSteps = OvsReconciler.PortSteps(desired, layout, actual);
            foreach (var step in portSteps)
            {
                await ApplyAsync(step, ct);
                done.Add(step);
                if (step is OvsStep.AddTunnel { Replacing: { } was })
                    drift.Add($"tunnel {was} changed behind the agent's back");
            }
            if (!actual.Bridges.Contains(layout.IntegrationBridge) && portSteps.Count == 0)
                return new OvsCycleResult(done, [], drift, new HashSet<string>());
            if (portSteps.Count > 0)
                actual = await driver.ReadAsync(layout.IntegrationBridge, physical, ct);
            // The same network state and port numbers render the same plan: most cycles (a server resumed, nothing changed) reuse it.
            var key = Fingerprint(desired, actual.Ofports);
            var plan = _rendered is { } last && last.Key == key ? last.Plan : FlowPipeline.Render(desired, layout, actual.Ofports);
            _rendered = (key, plan);
            var inSync = new Dictionary<string, bool>(StringComparer.Ordinal);
            var cookies = new Dictionary<string, ulong>(StringComparer.Ordinal);
            foreach (var bridge in plan.Bridges)
            {
                inSync[bridge.Bridge] = await driver.FlowsInSyncAsync(bridge.Bridge, bridge.Flows, ct);
                if (driver.LastCookie(bridge.Bridge) is { } c)
                    cookies[bridge.Bridge] = c;
            }
            foreach (var step in OvsReconciler.FlowSteps(plan, layout, inSync, actual, cookies))
            {
                await ApplyAsync(step, ct);
                done.Add(step);
                if (step is OvsStep.ReplaceFlows { Drift: { } d })
                    drift.Add(d);
            }
            // A port whose network cannot leave this host (no bridge for its physnet, no tunnel endpoint) is not ready: say why.
            var unplugged = Unreachable(desired);
            var ready = plan.Rendered.ToHashSet(StringComparer.Ordinal);
            ready.ExceptWith(unplugged.Keys);
            return new OvsCycleResult(done, unplugged.Values.Distinct().ToList(), drift, ready);
        }
        catch (DriverException e)
        {
            return new OvsCycleResult(done, [$"Open vSwitch: {e.Message}"], drift, new HashSet<string>());
        }
    }

    private static string Fingerprint(HostNetworkState desired, IReadOnlyDictionary<string, int> ofports)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(desired));
        foreach (var (name, number) in ofports.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"\n{name}={number}"));
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>The taps whose network has no way off this host, with the reason.</summary>
    private Dictionary<string, string> Unreachable(HostNetworkState desired)
    {
        var networks = desired.Networks.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var port in desired.Ports)
        {
            if (!networks.TryGetValue(port.Network, out var network))
                continue;
            var reason = network.Type switch
            {
                SegmentType.Vlan or SegmentType.Flat when network.Physnet is null || !layout.BridgeMappings.ContainsKey(network.Physnet) =>
                    $"network {network.Id} ({network.Type} on {network.Physnet}): this host maps no bridge to {network.Physnet} (agent --bridge-mappings)",
                SegmentType.Vxlan or SegmentType.Gre when desired.TunnelIp is null =>
                    $"network {network.Id} ({network.Type}): this host has no tunnel endpoint (agent --tunnel-ip)",
                _ => null,
            };
            if (reason is not null)
                result[port.Device] = reason;
        }
        return result;
    }

    private Task ApplyAsync(OvsStep step, CancellationToken ct) => step switch
    {
        OvsStep.EnsureBridge b => driver.EnsureBridgeAsync(b.Bridge, ct),
        OvsStep.AddTunnel t => driver.AddTunnelAsync(t.Bridge, t.Tunnel, ct),
        OvsStep.AddPatch p => driver.AddPatchAsync(p.Bridge, p.Patch, ct),
        OvsStep.DeletePort d => driver.DeletePortAsync(d.Bridge, d.Port, ct),
        OvsStep.ReplaceFlows f => driver.ReplaceFlowsAsync(f.Bridge, f.Flows, ct),
        OvsStep.SetMeter { Exists: true } m => driver.ModifyMeterAsync(m.Bridge, m.Meter, ct),
        OvsStep.SetMeter m => driver.AddMeterAsync(m.Bridge, m.Meter, ct),
        OvsStep.DeleteMeter m => driver.DeleteMeterAsync(m.Bridge, m.Id, ct),
        _ => throw new InvalidOperationException($"unknown step {step}"),
    };
}
