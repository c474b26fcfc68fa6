using Isola.Rendering.Boot;
using Isola.Rendering.Guest;
using Isola.Rendering.Isolation;
using Isola.Rendering.Vf;

namespace Isola.Rendering;

/// <summary>
/// What a host must look like for one server: the libvirt domain, each VF's settings, where its
/// interrupts and vhost threads run, host-wide isolation, kernel advice and the guest's network
/// configuration. Pure data: the agent applies it.
/// </summary>
/// <param name="Disk">The root disk the agent makes (null in plans of an earlier release: none).</param>
/// <param name="ConfigDrive">The NoCloud config drive the agent writes beside it (null in plans of an earlier release).</param>
/// <param name="Files">Where the server's files are on the host (the domain XML points there; null in plans of an earlier release).</param>
/// <param name="Server">The libvirt domain's name: the server's name unless the render input named the domain.</param>
public sealed record HostPlan(
    string Server,
    string Host,
    string Uuid,
    string DomainXml,
    IReadOnlyList<VfSettings> Vfs,
    IrqAffinityPlan Irqs,
    HostIsolation Isolation,
    IReadOnlyList<KernelAdvice> Advice,
    IReadOnlyList<GuestNic> Nics,
    string NetworkConfig,
    InstanceDisk? Disk = null,
    ConfigDrive? ConfigDrive = null,
    Libvirt.InstanceFiles? Files = null)
{
    /// <summary>Every command that programs the plan's VFs, in order.</summary>
    public IEnumerable<IReadOnlyList<string>> VfCommands => Vfs.SelectMany(Vf.VfCommands.Program);

    /// <summary>The commands that reset the plan's VFs when the server goes.</summary>
    public IEnumerable<IReadOnlyList<string>> VfResetCommands => Vfs.SelectMany(v => Vf.VfCommands.Reset(v.PfNetDev, v.VfIndex, v.Driver));
}
