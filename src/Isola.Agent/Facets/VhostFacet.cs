using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering;

namespace Isola.Agent.Facets;

/// <summary>A running or paused domain's QEMU process and its vhost workers (both forms), in TID order.</summary>
public sealed record QemuProcess(int Pid, IReadOnlyList<VhostWorker> Vhost);

/// <summary>The QEMU process of each started domain whose plan pins vhost workers, by domain name.</summary>
public sealed record QemuReading(IReadOnlyDictionary<string, QemuProcess> Qemu) : IReading<QemuReading>
{
    public static QemuReading None { get; } = new(new Dictionary<string, QemuProcess>());
}

/// <summary>The vhost workers the agent pinned in a domain's current QEMU process (a new process starts a new list).</summary>
public sealed record PinnedVhost(int QemuPid, IReadOnlyList<int> Tids);

/// <summary>
/// vhost-net workers of virtio and macvtap ports (<c>run/libvirt/qemu/NAME.pid</c>; the workers among
/// <c>proc/PID/task/*/</c> or, as kernel threads, <c>proc/*/</c>; <c>taskset -p -c CPU TID</c>): once the domain runs or is paused (the workers exist only then),
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

    /// <summary>Started domains whose vhost workers cannot be paired with their plan's pins or put on them, and why.</summary>
    public static IEnumerable<string> Unpaired(DesiredHost desired, ActualHost actual)
    {
        var domains = actual.Get<DomainReading>().Domains;
        var qemu = actual.Get<QemuReading>().Qemu;
        return desired.Servers.Select(s => s.Plan).OfType<HostPlan>()
            .Where(p => domains.GetValueOrDefault(p.Server) is "paused" or "running")
            .SelectMany(p => Why(p, qemu.GetValueOrDefault(p.Server)));
    }

    /// <summary>What keeps a started domain's workers from their pins: they cannot be paired, or a worker's cgroup refuses its CPU.</summary>
    private static IEnumerable<string> Why(HostPlan plan, QemuProcess? qemu)
    {
        var pins = plan.Irqs?.Vhost ?? [];
        if (VhostPairing.Unpaired(plan.Server, pins, qemu) is { } unpaired)
            return [unpaired];
        return (VhostPairing.Pair(pins, qemu) ?? []).Select(w => VhostPairing.Refusal(qemu!.Pid, w.Pin, w.Worker)).OfType<string>().Select(r => $"{plan.Server}: {r}");
    }

    /// <summary>For the started domains whose plans pin vhost workers: QEMU's pid and its workers.</summary>
    public Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var domains = read.Actual.Get<DomainReading>().Domains;
        var pids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var plan in read.Desired.Servers.Select(s => s.Plan).OfType<HostPlan>().Where(p => p.Irqs?.Vhost is { Count: > 0 }))
        {
            if (domains.GetValueOrDefault(plan.Server) is "paused" or "running" && read.Driver.QemuPid(plan.Server) is { } pid)
                pids[plan.Server] = pid;
        }
        // One pass over proc/ for every QEMU: kernel-thread workers are found only there.
        var workers = pids.Count == 0 ? new Dictionary<int, IReadOnlyList<VhostWorker>>() : read.Driver.VhostWorkers(pids.Values.ToList());
        return Task.FromResult<object?>(new QemuReading(pids.ToDictionary(p => p.Key, p => new QemuProcess(p.Value, workers[p.Value]), StringComparer.Ordinal)));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var qemu = actual.Get<QemuReading>().Qemu.GetValueOrDefault(server.Domain);
        if (!server.Started || qemu is null || VhostPairing.Pair(server.Plan.Irqs?.Vhost ?? [], qemu) is not { } workers)
            yield break;
        var pinned = Pinned(server.Applied);
        var pid = qemu.Pid;
        // A worker whose cgroup refuses its CPU is not tried (taskset would fail each cycle): the problem says why.
        foreach (var (pin, worker) in workers.Where(w => !VhostPairing.Holds(w.Pin, w.Worker) && VhostPairing.Refusal(pid, w.Pin, w.Worker) is null))
        {
            // Pinned by this agent in this very QEMU before, and moved since: drift.
            var moved = pinned is not null && pinned.QemuPid == pid && pinned.Tids.Contains(worker.Tid);
            yield return new PinVhost(server.Id, pid, worker.Tid, VhostPairing.Cpus(pin),
                moved ? $"{VhostPairing.Name(pid, worker)} ({pin.Port} queue {pin.Queue}): on {worker.Cpus} (want {VhostPairing.Cpus(pin)})" : null);
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
