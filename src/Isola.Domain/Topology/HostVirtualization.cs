namespace Isola.Domain.Topology;

/// <summary>
/// How a host runs guests, as its agent found it: the libvirt domain type (<c>kvm</c> where KVM works,
/// <c>qemu</c> — TCG — where it does not), whether <c>/dev/vhost-net</c> is there for virtio ports, and
/// where the host keeps its servers' files and QEMU. An inventory without it (from an earlier release)
/// means <see cref="Default"/>: KVM, vhost-net, Debian's paths.
/// </summary>
public sealed record HostVirtualization(
    string DomainType = HostVirtualization.Kvm,
    bool VhostNet = true,
    string InstancesDirectory = "/var/lib/isola/instances",
    string Emulator = "/usr/bin/qemu-system-x86_64")
{
    public const string Kvm = "kvm";

    /// <summary>QEMU's own translator (TCG): slower, no KVM needed.</summary>
    public const string Qemu = "qemu";

    public static HostVirtualization Default { get; } = new();

    /// <summary>Whether a domain type is one libvirt's QEMU driver runs.</summary>
    public static bool IsDomainType(string? type) => type is Kvm or Qemu;
}
