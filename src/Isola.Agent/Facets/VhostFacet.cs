using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering;

namespace Isola.Agent.Facets;

/// <summary>A vhost-net worker (a task named <c>vhost-QEMUPID</c>) and the CPUs it may run on (<c>Cpus_allowed_list</c>).</summary>
public sealed record VhostWorker(int Tid, string Cpus);

/// <summary>A running or paused domain's QEMU process and its vhost workers, in TID order.</summary>
public sealed record QemuProcess(int Pid, IReadOnlyList<VhostWorker> Vhost);

/// <summary>The QEMU process of each started domain whose plan pins vhost workers, by domain name.</summary>
public sealed record QemuReading(IReadOnlyDictionary<string, QemuProcess> Qemu) : IReading<QemuReading>
{
    public static QemuReading None { get; } = new(new Dictionary<string, QemuProcess>());
}

/// <summary>The vhost workers the agent pinned in a domain's current QEMU process (a new process starts a new list).</summary>
public sealed record PinnedVhost(int QemuPid, IReadOnlyList<int> Tids);

/// <summary>
/// vhost-net workers of virtio ports (<c>run/libvirt/qemu/NAME.pid</c>, <c>proc/PID/task/*/</c>,
/// <c>taskset -p -c CPU TID</c>): once the domain runs or is paused (the workers exist only then),
/// each worker not on its pin's CPU is pinned there (<see cref="VhostPairing"/> says which worker is
/// which). The pids and TIDs pinned are kept in the server's file (the part <see cref="Memory"/>)
/// only to tell a worker moved behind the agent's back (drift) from one never pinned; nothing to undo:
/// the workers end with QEMU. A virtio port with pins is ready only when its workers are where the plan says.
/// </summary>
public sealed class VhostFacet : IHostFacet
{
    /// <summary>Confines a vhost worker (task <see cref="Tid"/> of QEMU <see cref="Pid"/>) to its pin's CPU.</summary>
    public sealed record PinVhost(string Id, int Pid, int Tid, string Cpus, string? Drift) : Step(Id), IDriftStep;

    /// <summary>The part of a server's file that holds the workers pinned so far.</summary>
    public const string Memory = "vhost";

    public static PinnedVhost? Pinned(AppliedServer? server) => server?.Part<PinnedVhost>(Memory);

    /// <summary>Started domains whose vhost workers cannot be paired with their plan's pins, and why.</summary>
    public static IEnumerable<string> Unpaired(DesiredHost desired, ActualHost actual)
    {
        var domains = actual.Get<DomainReading>().Domains;
        var qemu = actual.Get<QemuReading>().Qemu;
        return desired.Servers.Select(s => s.Plan).OfType<HostPlan>()
            .Where(p => domains.GetValueOrDefault(p.Server) is "paused" or "running")
            .Select(p => VhostPairing.Unpaired(p.Server, p.Irqs?.Vhost ?? [], qemu.GetValueOrDefault(p.Server)))
            .OfType<string>();
    }

    /// <summary>For the started domains whose plans pin vhost workers: QEMU's pid and its workers.</summary>
    public Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var domains = read.Actual.Get<DomainReading>().Domains;
        var qemu = new Dictionary<string, QemuProcess>(StringComparer.Ordinal);
        foreach (var plan in read.Desired.Servers.Select(s => s.Plan).OfType<HostPlan>().Where(p => p.Irqs?.Vhost is { Count: > 0 }))
        {
            if (domains.GetValueOrDefault(plan.Server) is "paused" or "running" && read.Driver.QemuPid(plan.Server) is { } pid)
                qemu[plan.Server] = new QemuProcess(pid, read.Driver.VhostWorkers(pid));
        }
        return Task.FromResult<object?>(new QemuReading(qemu));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var qemu = actual.Get<QemuReading>().Qemu.GetValueOrDefault(server.Domain);
        if (!server.Started || qemu is null || VhostPairing.Pair(server.Plan.Irqs?.Vhost ?? [], qemu) is not { } workers)
            yield break;
        var pinned = Pinned(server.Applied);
        var pid = qemu.Pid;
        foreach (var (pin, worker) in workers.Where(w => !VhostPairing.Holds(w.Pin, w.Worker)))
        {
            // Pinned by this agent in this very QEMU before, and moved since: drift.
            var moved = pinned is not null && pinned.QemuPid == pid && pinned.Tids.Contains(worker.Tid);
            yield return new PinVhost(server.Id, pid, worker.Tid, VhostPairing.Cpus(pin),
                moved ? $"vhost-{pid} task {worker.Tid} ({pin.Port} queue {pin.Queue}): on {worker.Cpus} (want {VhostPairing.Cpus(pin)})" : null);
        }
    }

    public bool Holds(ServerContext server, DesiredPort port, ActualHost actual)
    {
        var pins = server.Plan.Irqs?.Vhost ?? [];
        if (pins.All(p => p.Port != port.Name))
            return true;
        var workers = VhostPairing.Pair(pins, actual.Get<QemuReading>().Qemu.GetValueOrDefault(server.Domain));
        return workers is not null && workers.Where(w => w.Pin.Port == port.Name).All(w => VhostPairing.Holds(w.Pin, w.Worker));
    }

    public IEnumerable<string> Problems(DesiredHost desired, ActualHost actual) => Unpaired(desired, actual);

    public async Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        if (step is not PinVhost pin)
            throw HostFacets.NotMine(this, step);
        await hands.Driver.PinTaskAsync(pin.Tid, pin.Cpus, ct);
        // Kept after the fact: only to tell a worker moved behind the agent's back (drift) from one never pinned.
        var record = hands.Applied.Load()[pin.Id];
        var tids = Pinned(record) is { } v && v.QemuPid == pin.Pid ? v.Tids : [];
        if (!tids.Contains(pin.Tid))
            hands.Applied.Save(record.WithPart(Memory, new PinnedVhost(pin.Pid, [.. tids, pin.Tid])));
    }
}
