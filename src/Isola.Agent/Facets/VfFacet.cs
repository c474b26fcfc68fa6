using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Pci;
using Isola.Rendering.Vf;

namespace Isola.Agent.Facets;

/// <summary>The settings each VF of interest holds now, by (PF netdev, VF index).</summary>
public sealed record VfReading(IReadOnlyDictionary<(string Pf, int Vf), VfState> Vfs) : IReading<VfReading>
{
    public static VfReading None { get; } = new(new Dictionary<(string, int), VfState>());
}

/// <summary>
/// The server's VFs (<c>ip -d -j link show dev PF</c>, <c>ip link set dev PF vf N ...</c>, one
/// concern per command): each VF whose settings differ from the plan is programmed — after every
/// start too, because libvirt sets MAC and VLAN of a hostdev VF as it starts the domain; a VF set
/// before and changed since is drift. A server that goes has its VFs reset (MAC zero, VLAN 0, spoof
/// check on, trust off, rates 0, state auto). A port is ready only when each of its VFs holds the plan's settings.
/// </summary>
public sealed class VfFacet : IHostFacet
{
    public sealed record ProgramVf(string Id, VfSettings Vf, string? Drift) : Step(Id), IDriftStep;
    public sealed record ResetVf(string Id, VfSettings Vf) : Step(Id);

    /// <summary>One <c>ip link show</c> per PF that a desired or applied server has a VF on.</summary>
    public async Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var pfs = read.Desired.Servers.SelectMany(s => s.Plan?.Vfs ?? []).Concat(read.Applied.Values.SelectMany(r => r.Vfs)).Select(v => v.PfNetDev)
            .Distinct(StringComparer.Ordinal);
        var vfs = new Dictionary<(string, int), VfState>();
        foreach (var pf in pfs)
        {
            foreach (var (index, state) in await read.Driver.VfStatesAsync(pf, ct))
                vfs[(pf, index)] = state;
        }
        return new VfReading(vfs);
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var vfs = actual.Get<VfReading>().Vfs;
        foreach (var vf in server.Plan.Vfs)
        {
            var now = vfs.GetValueOrDefault((vf.PfNetDev, vf.VfIndex));
            // Programmed after every start (libvirt sets MAC and VLAN as it starts the domain); otherwise when it differs.
            if (now == vf.Desired && !server.Starts)
                continue;
            // Set before and not by this agent's hand since: drift, to be reported.
            var drift = server.Known && !server.Starts && now is not null ? Describe(vf, now) : null;
            yield return new ProgramVf(server.Id, vf, drift);
        }
    }

    public IEnumerable<Step> PlanTakeDown(AppliedServer gone, ActualHost actual)
    {
        var vfs = actual.Get<VfReading>().Vfs;
        foreach (var vf in gone.Vfs)
        {
            if (vfs.GetValueOrDefault((vf.PfNetDev, vf.VfIndex)) != VfState.Reset)
                yield return new ResetVf(gone.Id, vf);
        }
    }

    public bool Holds(ServerContext server, DesiredPort port, ActualHost actual)
    {
        var vfs = actual.Get<VfReading>().Vfs;
        return server.Plan.Vfs.Where(v => v.Port == port.Name).All(v => vfs.GetValueOrDefault((v.PfNetDev, v.VfIndex)) == v.Desired);
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct) => step switch
    {
        ProgramVf p => hands.Driver.ProgramVfAsync(p.Vf, ct),
        ResetVf r => hands.Driver.ResetVfAsync(r.Vf.PfNetDev, r.Vf.VfIndex, r.Vf.Driver, ct),
        _ => throw HostFacets.NotMine(this, step),
    };

    private static string Describe(VfSettings vf, VfState now)
    {
        var d = vf.Desired;
        var what = new List<string>();
        if (now.Mac != d.Mac) what.Add($"mac {now.Mac} (want {d.Mac})");
        if (now.Vlan != d.Vlan || now.Qos != d.Qos || now.VlanProtocol != d.VlanProtocol) what.Add($"vlan {now.Vlan} (want {d.Vlan})");
        if (now.SpoofCheck != d.SpoofCheck) what.Add($"spoofchk {(now.SpoofCheck ? "on" : "off")}");
        if (now.Trust != d.Trust) what.Add($"trust {(now.Trust ? "on" : "off")}");
        if (now.LinkState != d.LinkState) what.Add($"state {now.LinkState}");
        if (now.MaxTxRateMbps != d.MaxTxRateMbps || now.MinTxRateMbps != d.MinTxRateMbps) what.Add($"rates {now.MaxTxRateMbps}/{now.MinTxRateMbps}");
        return $"{vf.PfNetDev} vf {vf.VfIndex} ({vf.Port}): {string.Join(", ", what)}";
    }
}
