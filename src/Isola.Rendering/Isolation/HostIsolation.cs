using Isola.Domain.Cpu;

namespace Isola.Rendering.Isolation;

/// <summary>A file the host needs, with its whole content.</summary>
public sealed record HostFile(string Path, string Content);

/// <summary>
/// Host-wide CPU isolation: irqbalance keeps off every dedicated pCPU (and leaves the VMs' steered
/// IRQs alone), host services are confined to the reserved CPUs by systemd slices.
/// </summary>
/// <param name="BannedIrqs">IRQs irqbalance must not move: the ones this plan steers.</param>
public sealed record HostIsolation(CpuSet Dedicated, CpuSet Reserved, IReadOnlyList<int> BannedIrqs)
{
    /// <summary>/etc/default/irqbalance: read by irqbalance's systemd unit (IRQBALANCE_BANNED_CPULIST needs irqbalance 1.8 or later).</summary>
    public HostFile IrqbalanceDefaults => new("/etc/default/irqbalance",
        $"# Written by Isola: irqbalance keeps off the CPUs guests pin to.\nIRQBALANCE_BANNED_CPULIST={Dedicated}\n" +
        (BannedIrqs.Count == 0 ? "" : $"IRQBALANCE_ARGS=\"{string.Join(' ', BannedIrqs.Select(i => $"--banirq={i}"))}\"\n"));

    /// <summary>Drop-ins that keep system services, user sessions and init on the reserved CPUs.</summary>
    public IReadOnlyList<HostFile> SliceDropIns =>
        new[] { "system.slice", "user.slice", "init.scope" }.Select(unit => new HostFile(
            $"/etc/systemd/system/{unit}.d/50-isola-cpus.conf",
            $"# Written by Isola: host work stays off the CPUs guests pin to.\n[{(unit.EndsWith(".scope", StringComparison.Ordinal) ? "Scope" : "Slice")}]\nAllowedCPUs={Reserved}\n")).ToList();
}
