using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Rendering;

namespace Isola.Agent;

/// <summary>What one reconcile cycle did.</summary>
public sealed record CycleResult(long Revision, IReadOnlyList<Step> Done, IReadOnlyList<string> Failures, IReadOnlyList<string> Drift,
    IReadOnlyList<OvsStep>? OvsDone = null);

/// <summary>
/// The agent of one host: registers the host's inventory, then loops — fetch the desired state (a
/// long poll that also returns every <see cref="Resync"/> so drift is found without changes), compare
/// with what the host holds, make the difference, report. Idempotent: a cycle after a crash at any
/// point finds what is done and does the rest (what it put on the host is on disk before it acts).
/// </summary>
public sealed class HostAgent(HostTopology inventory, ControllerClient controller, HostDriver driver, AppliedStore applied, TimeProvider time)
{
    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The Open vSwitch part of each cycle (virtio ports' flows); null: the agent leaves OVS alone.</summary>
    public OvsCycle? Ovs { get; init; }

    /// <summary>The last failure of a cycle, for status and tests.</summary>
    public Exception? LastError { get; private set; }

    public async Task RegisterAsync(CancellationToken ct) => await controller.RegisterAsync(inventory, ct);

    /// <summary>
    /// One cycle: desired (waiting for a revision after <paramref name="after"/> if given), actual,
    /// steps, report. A cycle that started a domain reads the host and plans once more: what exists
    /// only once QEMU runs (its vhost workers) is done in the same cycle, so the ports can be reported
    /// ACTIVE without waiting for the next one.
    /// </summary>
    public async Task<CycleResult> CycleAsync(long? after = null, CancellationToken ct = default)
    {
        var desired = await controller.DesiredAsync(after, Resync, ct);
        var done = new List<Step>();
        var failures = new List<string>();
        var drift = new List<string>();
        var failed = new HashSet<string>(StringComparer.Ordinal);
        // libvirt plugs a virtio port's tap into its bridge when the domain starts, and refuses to start it without the bridge.
        if (Ovs is not null && desired.Network is { Ports.Count: > 0 })
        {
            try
            {
                await Ovs.EnsureBridgeAsync(ct);
            }
            catch (DriverException e)
            {
                failures.Add($"Open vSwitch: {e.Message}");
            }
        }
        ActualHost? unchanged = null;  // what the host held when the last pass found nothing to do
        for (var pass = 0; pass < 2 && (pass == 0 || done.Any(s => s is Step.StartPaused)); pass++)
        {
            var records = applied.Load();
            var before = await ReadAsync(desired, records, ct);
            var steps = Reconciler.Plan(desired, before, records);
            unchanged = steps.Count == 0 ? before : null;
            foreach (var step in steps)
            {
                if (failed.Contains(step.Server))
                    continue; // the rest of a server's steps wait for the next cycle
                try
                {
                    await ApplyAsync(step, ct);
                    done.Add(step);
                    if (step switch { Step.ProgramVf v => v.Drift, Step.SteerIrq i => i.Drift, Step.PinVhost p => p.Drift, _ => null } is { } d)
                        drift.Add(d);
                }
                catch (DriverException e)
                {
                    failed.Add(step.Server);
                    failures.Add($"{step.GetType().Name} for {step.Server}: {e.Message}");
                }
            }
        }
        // Taps exist once their domains started (libvirt plugs them), so OVS comes after the domains.
        // A controller that sends no network state (older than the agent) leaves Open vSwitch as it is.
        var managed = Ovs is not null && desired.Network is not null;
        var network = managed ? await Ovs!.RunAsync(desired.Network, ct) : OvsCycleResult.Nothing;
        failures.AddRange(network.Failures);
        drift.AddRange(network.Drift);
        // Nothing done: the host is as read (Open vSwitch steps change nothing the report reads here).
        var actual = unchanged ?? await ReadAsync(desired, applied.Load(), ct);
        failures.AddRange(Reconciler.VhostUnpaired(desired, actual));
        await controller.ReportAsync(Reconciler.Report(desired, actual, managed ? network.ReadyTaps : null), ct);
        return new CycleResult(desired.Revision, done, failures, drift, network.Done);
    }

    /// <summary>Registers, then runs cycles until cancelled; a failed cycle is retried after a pause.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await RetryAsync(RegisterAsync, ct);
        long? revision = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                revision = (await CycleAsync(revision, ct)).Revision;
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return; // stopping: whatever the last call threw on the way out
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // An agent outlives any one failure: the next cycle starts from what the host holds.
                LastError = e;
                revision = null;
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task RetryAsync(Func<CancellationToken, Task> action, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await action(ct);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                LastError = e;
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
            }
        }
    }

    private async Task<ActualHost> ReadAsync(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> records, CancellationToken ct)
    {
        var pfs = desired.Servers.SelectMany(s => s.Plan?.Vfs ?? []).Concat(records.Values.SelectMany(r => r.Vfs)).Select(v => v.PfNetDev)
            .Distinct(StringComparer.Ordinal);
        var vfs = new Dictionary<(string, int), VfState>();
        foreach (var pf in pfs)
        {
            foreach (var (index, state) in await driver.VfStatesAsync(pf, ct))
                vfs[(pf, index)] = state;
        }
        var msi = new Dictionary<Isola.Domain.Pci.PciAddress, IReadOnlyList<int>>();
        foreach (var rule in desired.Servers.SelectMany(s => s.Plan?.Irqs?.Rules ?? []))
            msi[rule.Vf] = driver.MsiIrqs(rule.Vf);
        var irqs = desired.Servers.SelectMany(s => s.Plan?.Irqs?.Known.Select(k => k.Irq) ?? []).Concat(msi.Values.SelectMany(v => v))
            .Concat(records.Values.SelectMany(r => r.IrqsBefore?.Keys ?? Enumerable.Empty<int>())).Distinct();
        var affinity = new Dictionary<int, string>();
        foreach (var irq in irqs)
        {
            if (driver.IrqAffinity(irq) is { } cpus)
                affinity[irq] = cpus;
        }
        var dropIns = Reconciler.Isolation(desired)?.SliceDropIns ?? [];
        var domains = await driver.DomainsAsync(ct);
        // vhost workers exist while QEMU runs: read for the started domains whose plans pin them.
        var qemu = new Dictionary<string, QemuProcess>(StringComparer.Ordinal);
        foreach (var plan in desired.Servers.Select(s => s.Plan).OfType<HostPlan>().Where(p => p.Irqs?.Vhost is { Count: > 0 }))
        {
            if (domains.GetValueOrDefault(plan.Server) is "paused" or "running" && driver.QemuPid(plan.Server) is { } pid)
                qemu[plan.Server] = new QemuProcess(pid, driver.VhostWorkers(pid));
        }
        return new ActualHost(domains, vfs, msi, affinity, driver.ReadHostFile(IrqbalancePath),
            dropIns.ToDictionary(f => f.Path, f => driver.ReadHostFile(f.Path)), qemu, driver.DomainFiles());
    }

    private Task ApplyAsync(Step step, CancellationToken ct) => step switch
    {
        Step.Remember r => Do(() => applied.Save(r.Applied)),
        Step.Define d => driver.DefineAsync(d.Domain, d.Xml, ct),
        Step.StartPaused s => driver.StartPausedAsync(s.Domain, ct),
        Step.ProgramVf p => driver.ProgramVfAsync(p.Vf, ct),
        Step.Resume r => driver.ResumeAsync(r.Domain, ct),
        Step.Destroy d => driver.DestroyAsync(d.Domain, ct),
        Step.Undefine u => driver.UndefineAsync(u.Domain, ct),
        Step.ResetVf v => driver.ResetVfAsync(v.Vf.PfNetDev, v.Vf.VfIndex, v.Vf.Driver, ct),
        Step.Forget f => Do(() => applied.Forget(f.Id)),
        Step.RemoveDomainXml x => Do(() => driver.RemoveDomainFile(x.Domain)),
        Step.SteerIrq s => Do(() =>
        {
            // The affinity before is on disk before it is changed: a crash right after still restores it.
            var record = applied.Load()[s.Id];
            var before = new Dictionary<int, string>(record.IrqsBefore ?? new Dictionary<int, string>());
            if (before.TryAdd(s.Irq, s.Before))
                applied.Save(record with { IrqsBefore = before });
            driver.SetIrqAffinity(s.Irq, s.Cpus);
        }),
        Step.RestoreIrq r => Do(() => driver.SetIrqAffinity(r.Irq, r.Cpus)),
        Step.PinVhost p => PinVhostAsync(p, ct),
        Step.Irqbalance b => IrqbalanceAsync(b, ct),
        Step.SystemdDropIns d => DropInsAsync(d, ct),
        _ => throw new InvalidOperationException($"unknown step {step}"),
    };

    private const string IrqbalancePath = "/etc/default/irqbalance";

    private async Task PinVhostAsync(Step.PinVhost step, CancellationToken ct)
    {
        await driver.PinTaskAsync(step.Tid, step.Cpus, ct);
        // Kept after the fact: only to tell a worker moved behind the agent's back (drift) from one never pinned.
        var record = applied.Load()[step.Id];
        var tids = record.Vhost is { } v && v.QemuPid == step.Pid ? v.Tids : [];
        if (!tids.Contains(step.Tid))
            applied.Save(record with { Vhost = new PinnedVhost(step.Pid, [.. tids, step.Tid]) });
    }

    private async Task IrqbalanceAsync(Step.Irqbalance step, CancellationToken ct)
    {
        driver.WriteHostFile(step.Path, step.Content);
        await driver.RestartIrqbalanceAsync(ct);
    }

    private async Task DropInsAsync(Step.SystemdDropIns step, CancellationToken ct)
    {
        foreach (var file in step.Files)
            driver.WriteHostFile(file.Path, file.Content);
        await driver.ReloadSystemdAsync(ct);
    }

    private static Task Do(Action action)
    {
        action();
        return Task.CompletedTask;
    }
}
