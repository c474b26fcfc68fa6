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
    /// <summary>Creates the integration bridge if it is missing (before domains with virtio ports start).</summary>
    public async Task EnsureBridgeAsync(CancellationToken ct)
    {
        // One list-br per cycle: the full read comes after the domains.
        if (await driver.BridgesAsync(ct) is { } bridges && !bridges.Contains(layout.IntegrationBridge))
            await driver.EnsureBridgeAsync(layout.IntegrationBridge, ct);
    }

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
            // A physical network whose bridge the operator has not made cannot be patched: its ports wait, the rest go on.
            var missing = layout.BridgeMappings.Where(m => !actual.Bridges.Contains(m.Value)).Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
            var effective = layout with
            {
                BridgeMappings = layout.BridgeMappings.Where(m => !missing.Contains(m.Key)).ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal),
            };
            var portSteps = OvsReconciler.PortSteps(desired, effective, actual);
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
            // Port numbers of the integration bridge's ports only (a tap plugged elsewhere is not this bridge's port).
            var onBridge = (actual.BridgePorts.GetValueOrDefault(layout.IntegrationBridge) ?? []).ToHashSet(StringComparer.Ordinal);
            var ofports = actual.Ofports.Where(kv => onBridge.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            var key = Fingerprint(desired, ofports) + string.Join(",", missing.Order(StringComparer.Ordinal));
            var plan = _rendered is { } last && last.Key == key ? last.Plan : FlowPipeline.Render(desired, effective, ofports);
            _rendered = (key, plan);
            var inSync = new Dictionary<string, bool>(StringComparer.Ordinal);
            var cookies = new Dictionary<string, ulong>(StringComparer.Ordinal);
            foreach (var bridge in plan.Bridges)
            {
                inSync[bridge.Bridge] = await driver.FlowsInSyncAsync(bridge.Bridge, bridge.Flows, ct);
                if (driver.LastCookie(bridge.Bridge) is { } c)
                    cookies[bridge.Bridge] = c;
            }
            foreach (var step in OvsReconciler.FlowSteps(plan, effective, inSync, actual, cookies))
            {
                await ApplyAsync(step, ct);
                done.Add(step);
                if (step is OvsStep.ReplaceFlows { Drift: { } d })
                    drift.Add(d);
            }
            done.AddRange(await ForgetGoneAddressesAsync(desired, ready: plan.Rendered, ct));

            // A port whose network cannot leave this host (no bridge for its physnet, no tunnel endpoint) is not ready: say why.
            var unplugged = Unreachable(desired, missing);
            var ready = plan.Rendered.ToHashSet(StringComparer.Ordinal);
            ready.ExceptWith(unplugged.Keys);
            return new OvsCycleResult(done, unplugged.Values.Distinct().ToList(), drift, ready);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Whatever went wrong (a command, a state the pipeline cannot render, the state directory) is this part's failure: the cycle still reports.
            return new OvsCycleResult(done, [$"Open vSwitch: {e.Message}"], drift, new HashSet<string>());
        }
    }

    /// <summary>
    /// The (zone, address) pairs of the ports with flows here, kept under the state directory: an
    /// address that was there last time and is not now lost its port, and conntrack forgets its
    /// connections in that zone (their entries would otherwise let a new port with the same address
    /// take replies it never asked for).
    /// </summary>
    private async Task<IReadOnlyList<OvsStep>> ForgetGoneAddressesAsync(HostNetworkState desired, IReadOnlyList<string> ready, CancellationToken ct)
    {
        var zones = NetworkZones.Assign(desired.Networks.Select(n => n.Id));
        var served = ready.ToHashSet(StringComparer.Ordinal);
        var now = desired.Ports.Where(p => served.Contains(p.Device) && zones.ContainsKey(p.Network))
            .SelectMany(p => p.Ips.Select(ip => $"{zones[p.Network]} {ip}")).ToHashSet(StringComparer.Ordinal);
        var file = Path.Join(driver.StateDirectory, "ovs", "addresses");
        var before = File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal) : [];
        var steps = new List<OvsStep>();
        foreach (var group in before.Except(now).Select(l => l.Split(' ', 2)).GroupBy(p => int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture)))
        {
            var gone = group.Select(p => p[1]).ToHashSet(StringComparer.Ordinal);
            var connections = await driver.ConnectionsAsync(group.Key, ct);
            // A connection between two addresses that both went is theirs twice: flushed once (OVS refuses a second
            // flush of a tuple it no longer holds, ENOENT, which would end the cycle's Open vSwitch part).
            var forgotten = new HashSet<string>(StringComparer.Ordinal);
            foreach (var address in gone.Order(StringComparer.Ordinal))
            {
                var theirs = connections.Where(c => c.Source == address || c.Destination == address).ToList();
                foreach (var connection in theirs.Where(c => forgotten.Add(c.Tuple)))
                    await driver.ForgetConnectionAsync(group.Key, connection, ct);
                steps.Add(new OvsStep.ForgetConnections(group.Key, address, theirs.Count));
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllLines(file, now.Order(StringComparer.Ordinal));
        return steps;
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
    private Dictionary<string, string> Unreachable(HostNetworkState desired, IReadOnlySet<string> missingBridges)
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
                SegmentType.Vlan or SegmentType.Flat when missingBridges.Contains(network.Physnet!) =>
                    $"network {network.Id} ({network.Type} on {network.Physnet}): bridge {layout.BridgeMappings[network.Physnet!]} does not exist (the operator makes it, with the NIC in it)",
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
