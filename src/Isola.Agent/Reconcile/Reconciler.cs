using Isola.Contracts.Agent;
using Isola.Rendering;
using Isola.Rendering.Vf;

namespace Isola.Agent.Reconcile;

/// <summary>One thing to do on the host, for one server.</summary>
public abstract record Step(string Server)
{
    public sealed record Remember(AppliedServer Applied) : Step(Applied.Id);
    public sealed record Define(string Id, string Domain, string Xml) : Step(Id);
    public sealed record StartPaused(string Id, string Domain) : Step(Id);
    public sealed record ProgramVf(string Id, VfSettings Vf, string? Drift) : Step(Id);
    public sealed record Resume(string Id, string Domain) : Step(Id);
    public sealed record Destroy(string Id, string Domain) : Step(Id);
    public sealed record Undefine(string Id, string Domain) : Step(Id);
    public sealed record ResetVf(string Id, VfSettings Vf) : Step(Id);
    public sealed record Forget(string Id) : Step(Id);
    /// <summary>Removes the XML a domain was defined from (kept in the state directory while its server is on the host).</summary>
    public sealed record RemoveDomainXml(string Id, string Domain) : Step(Id);
    /// <summary>Steers an IRQ; <see cref="Before"/> is its affinity now, kept to restore it.</summary>
    public sealed record SteerIrq(string Id, int Irq, string Cpus, string Before, string? Drift) : Step(Id);
    public sealed record RestoreIrq(string Id, int Irq, string Cpus) : Step(Id);
    /// <summary>Confines a vhost worker (task <see cref="Tid"/> of QEMU <see cref="Pid"/>) to its pin's CPU.</summary>
    public sealed record PinVhost(string Id, int Pid, int Tid, string Cpus, string? Drift) : Step(Id);
    /// <summary>The host's one irqbalance file, merged over every server, then irqbalance restarted.</summary>
    public sealed record Irqbalance(string Path, string Content) : Step("");
    /// <summary>Host-wide files (systemd CPU isolation drop-ins), then systemd told to reload.</summary>
    public sealed record SystemdDropIns(IReadOnlyList<Isola.Rendering.Isolation.HostFile> Files) : Step("");
}

/// <summary>What the agent reports after a cycle.</summary>
public sealed record AgentReportBody(long AppliedRevision, IReadOnlyList<(string Id, string VmState)> Servers, IReadOnlyList<(string Id, string Status)> Ports);

/// <summary>
/// The agent's decisions as a pure function of what should be (desired), what is (actual) and what
/// it put there before (applied): the steps that make the host match, in order — a domain is defined
/// and started paused before its VFs are programmed (libvirt sets MAC and VLAN of a hostdev VF when
/// the domain starts), its IRQs are steered and its vhost workers pinned once it runs (they exist
/// only then), VFs, IRQs and workers that drifted are set again, a server resumes only when told to,
/// and a server that left the desired state is destroyed, undefined and its VFs reset.
/// </summary>
public static class Reconciler
{
    public static IReadOnlyList<Step> Plan(DesiredHost desired, ActualHost actual, IReadOnlyDictionary<string, AppliedServer> applied)
    {
        var steps = new List<Step>();
        foreach (var server in desired.Servers)
        {
            if (server.Plan is not { } plan)
                continue;
            var domain = plan.Server;
            var known = applied.ContainsKey(server.Id);
            if (!known)
                steps.Add(new Step.Remember(new AppliedServer(server.Id, domain, plan.Vfs)));
            var state = actual.Domains.GetValueOrDefault(domain);
            if (state is null)
                steps.Add(new Step.Define(server.Id, domain, plan.DomainXml));
            var starts = (state is null or "shut off") && MayStart(server);
            if (starts)
                steps.Add(new Step.StartPaused(server.Id, domain));
            foreach (var vf in plan.Vfs)
            {
                var now = actual.Vfs.GetValueOrDefault((vf.PfNetDev, vf.VfIndex));
                // Programmed after every start (libvirt sets MAC and VLAN as it starts the domain); otherwise when it differs.
                if (now == vf.Desired && !starts)
                    continue;
                // Set before and not by this agent's hand since: drift, to be reported.
                var drift = known && !starts && now is not null ? Describe(vf, now) : null;
                steps.Add(new Step.ProgramVf(server.Id, vf, drift));
            }
            if (plan.Irqs is { } irqs && state is "paused" or "running")
            {
                var record = applied.GetValueOrDefault(server.Id);
                foreach (var a in Assignments(irqs, actual))
                {
                    var now = actual.IrqAffinity?.GetValueOrDefault(a.Irq);
                    var want = a.Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (now is null || now == want)
                        continue;
                    var before = record?.IrqsBefore?.GetValueOrDefault(a.Irq);
                    steps.Add(new Step.SteerIrq(server.Id, a.Irq, want, before ?? now,
                        before is not null ? $"irq {a.Irq} ({a.Vf}): on {now} (want {want})" : null));
                }
            }
            var qemu = actual.Qemu?.GetValueOrDefault(domain);
            if (state is "paused" or "running" && qemu is not null && VhostPairing.Pair(plan.Irqs?.Vhost ?? [], qemu) is { } workers)
            {
                var pinned = applied.GetValueOrDefault(server.Id)?.Vhost;
                var pid = qemu.Pid;
                foreach (var (pin, worker) in workers.Where(w => !VhostPairing.Holds(w.Pin, w.Worker)))
                {
                    // Pinned by this agent in this very QEMU before, and moved since: drift.
                    var moved = pinned is not null && pinned.QemuPid == pid && pinned.Tids.Contains(worker.Tid);
                    steps.Add(new Step.PinVhost(server.Id, pid, worker.Tid, VhostPairing.Cpus(pin),
                        moved ? $"vhost-{pid} task {worker.Tid} ({pin.Port} queue {pin.Queue}): on {worker.Cpus} (want {VhostPairing.Cpus(pin)})" : null));
                }
            }
            if (server.PowerState == "running" && (state is "paused" || starts))
                steps.Add(new Step.Resume(server.Id, domain));
        }
        if (IrqbalanceFile(desired, actual) is { } file && file.Content != actual.Irqbalance)
            steps.Add(new Step.Irqbalance(file.Path, file.Content));
        // Host services on the reserved CPUs: host policy, the same in every plan; kept when the last server goes.
        var dropIns = Isolation(desired)?.SliceDropIns ?? [];
        var changed = dropIns.Where(f => actual.HostFiles?.GetValueOrDefault(f.Path) != f.Content).ToList();
        if (changed.Count > 0)
            steps.Add(new Step.SystemdDropIns(changed));
        var wanted = desired.Servers.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in applied.Values.Where(a => !wanted.Contains(a.Id)).OrderBy(a => a.Id, StringComparer.Ordinal))
        {
            var state = actual.Domains.GetValueOrDefault(gone.Domain);
            if (state is "running" or "paused")
                steps.Add(new Step.Destroy(gone.Id, gone.Domain));
            if (state is not null)
                steps.Add(new Step.Undefine(gone.Id, gone.Domain));
            foreach (var vf in gone.Vfs)
            {
                if (actual.Vfs.GetValueOrDefault((vf.PfNetDev, vf.VfIndex)) != Isola.Domain.Pci.VfState.Reset)
                    steps.Add(new Step.ResetVf(gone.Id, vf));
            }
            foreach (var (irq, before) in gone.IrqsBefore ?? new Dictionary<int, string>())
            {
                if (actual.IrqAffinity?.GetValueOrDefault(irq) is { } now && now != before)
                    steps.Add(new Step.RestoreIrq(gone.Id, irq, before));
            }
            if (actual.DomainFiles?.Contains(gone.Domain) == true)
                steps.Add(new Step.RemoveDomainXml(gone.Id, gone.Domain));
            steps.Add(new Step.Forget(gone.Id));
        }
        // XML of domains no server here owns (earlier agents left it behind when a server went).
        var owned = applied.Values.Select(a => a.Domain).Concat(desired.Servers.Select(s => s.Plan?.Server).OfType<string>()).ToHashSet(StringComparer.Ordinal);
        foreach (var orphan in (actual.DomainFiles ?? new HashSet<string>()).Where(d => !owned.Contains(d)).Order(StringComparer.Ordinal))
            steps.Add(new Step.RemoveDomainXml(orphan, orphan));
        return steps;
    }

    /// <summary>The host-wide CPU isolation (the same in every plan); null when no server has a plan.</summary>
    public static Isola.Rendering.Isolation.HostIsolation? Isolation(DesiredHost desired) =>
        desired.Servers.Select(s => s.Plan?.Isolation).FirstOrDefault(i => i is not null);

    /// <summary>
    /// Whether the agent starts a server's domain that is not running: while it builds (the agent's own
    /// define, start paused, resume), and when it is asked to run again (desired power state running,
    /// not yet ACTIVE). Never when its desired power state is shutoff, and never for an ACTIVE server:
    /// a domain found shut off then was stopped by its guest (or anyone but Isola), and stays so — the
    /// report makes the server SHUTOFF.
    /// </summary>
    public static bool MayStart(DesiredServer server) => server.PowerState != "shutoff" && server.Status != "ACTIVE";

    /// <summary>
    /// The report after a cycle: each server's domain state, each port ACTIVE when its domain is
    /// started (paused or running), every VF of it holds its settings, for a virtio port the plan
    /// pins vhost workers for, each of its workers runs on its pin's CPU, and for a virtio port when its
    /// tap is on the integration bridge with its flows in place (<paramref name="readyTaps"/>; null: the
    /// agent does not manage Open vSwitch); DOWN otherwise.
    /// </summary>
    public static AgentReportBody Report(DesiredHost desired, ActualHost actual, IReadOnlySet<string>? readyTaps = null)
    {
        var virtio = desired.Network?.Ports.ToDictionary(p => p.Id, p => p.Device, StringComparer.Ordinal) ?? new Dictionary<string, string>();
        var servers = new List<(string, string)>();
        var ports = new List<(string, string)>();
        foreach (var server in desired.Servers)
        {
            var state = server.Plan is null ? null : actual.Domains.GetValueOrDefault(server.Plan.Server);
            servers.Add((server.Id, state switch
            {
                null => "absent",
                "shut off" => "shutoff",
                _ => state,
            }));
            var pins = server.Plan?.Irqs?.Vhost ?? [];
            var workers = server.Plan is null ? null : VhostPairing.Pair(pins, actual.Qemu?.GetValueOrDefault(server.Plan.Server));
            foreach (var port in server.Ports)
            {
                var vfs = server.Plan?.Vfs.Where(v => v.Port == port.Name).ToList() ?? [];
                var vhostPinned = pins.All(p => p.Port != port.Name)
                    || workers is not null && workers.Where(w => w.Pin.Port == port.Name).All(w => VhostPairing.Holds(w.Pin, w.Worker));
                var ready = state is "paused" or "running" && vhostPinned && vfs.All(v => actual.Vfs.GetValueOrDefault((v.PfNetDev, v.VfIndex)) == v.Desired)
                    && (readyTaps is null || !virtio.TryGetValue(port.Id, out var tap) || readyTaps.Contains(tap));
                ports.Add((port.Id, ready ? "ACTIVE" : "DOWN"));
            }
        }
        return new AgentReportBody(desired.Revision, servers, ports);
    }

    /// <summary>Started domains whose vhost workers cannot be paired with their plan's pins, and why.</summary>
    public static IEnumerable<string> VhostUnpaired(DesiredHost desired, ActualHost actual) =>
        desired.Servers.Select(s => s.Plan).OfType<HostPlan>()
            .Where(p => actual.Domains.GetValueOrDefault(p.Server) is "paused" or "running")
            .Select(p => VhostPairing.Unpaired(p.Server, p.Irqs?.Vhost ?? [], actual.Qemu?.GetValueOrDefault(p.Server)))
            .OfType<string>();

    /// <summary>
    /// irqbalance's file for the whole host: keep off the dedicated pCPUs (host-wide, the same in every
    /// plan) and leave alone every IRQ any server's plan steers. With no server left, Isola's file keeps
    /// the CPU list and loses the IRQs; a file Isola did not write is left alone.
    /// </summary>
    public static Isola.Rendering.Isolation.HostFile? IrqbalanceFile(DesiredHost desired, ActualHost actual)
    {
        var plans = desired.Servers.Select(s => s.Plan).OfType<HostPlan>().Where(p => p.Isolation is not null).ToList();
        if (plans.Count == 0)
        {
            // No server left: the CPUs stay banned (host policy), the IRQs Isola steered are irqbalance's again.
            return actual.Irqbalance is { } now && now.StartsWith("# Written by Isola", StringComparison.Ordinal)
                ? new Isola.Rendering.Isolation.HostFile("/etc/default/irqbalance",
                    string.Concat(now.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("IRQBALANCE_ARGS=", StringComparison.Ordinal)).Select(l => l + "\n")))
                : null;
        }
        var steered = plans.Where(p => p.Irqs is not null).SelectMany(p => Assignments(p.Irqs!, actual)).Select(a => a.Irq).Distinct().Order().ToList();
        var isolation = plans[0].Isolation!;
        return (isolation with { BannedIrqs = steered }).IrqbalanceDefaults;
    }

    /// <summary>Where each IRQ of a plan goes: the ones known beforehand and, per rule, the IRQs its VF has now.</summary>
    public static IEnumerable<Isola.Rendering.Isolation.IrqAssignment> Assignments(Isola.Rendering.Isolation.IrqAffinityPlan irqs, ActualHost actual) =>
        irqs.Known.Concat(irqs.Rules.SelectMany(r => Isola.Rendering.Isolation.IrqAffinityPlan.Assign(r, actual.MsiIrqs?.GetValueOrDefault(r.Vf) ?? [])))
            .DistinctBy(a => a.Irq);

    private static string Describe(VfSettings vf, Isola.Domain.Pci.VfState now)
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
