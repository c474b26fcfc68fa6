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

    /// <summary>The last plan rendered, with the desired revision and port numbers it was rendered from.</summary>
    private (long Revision, string Ofports, OvsPlan Plan)? _rendered;

    /// <param name="revision">The desired state's revision: a plan rendered at the same revision from the same port numbers is reused (every network change moves the revision).</param>
    public async Task<OvsCycleResult> RunAsync(HostNetworkState? desired, CancellationToken ct, long? revision = null)
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
            var ofports = string.Join(",", actual.Ofports.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
            var plan = revision is not null && _rendered is { } last && last.Revision == revision && last.Ofports == ofports
                ? last.Plan
                : FlowPipeline.Render(desired, layout, actual.Ofports);
            _rendered = revision is null ? null : (revision.Value, ofports, plan);
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
            return new OvsCycleResult(done, [], drift, plan.Rendered.ToHashSet(StringComparer.Ordinal));
        }
        catch (DriverException e)
        {
            return new OvsCycleResult(done, [$"Open vSwitch: {e.Message}"], drift, new HashSet<string>());
        }
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
