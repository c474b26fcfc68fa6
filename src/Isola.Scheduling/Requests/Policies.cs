namespace Isola.Scheduling.Requests;

/// <summary><c>hw:cpu_policy</c>.</summary>
public enum CpuPolicy
{
    /// <summary>vCPUs float over the host's shared CPUs, overcommitted by the CPU allocation ratio.</summary>
    Shared,
    /// <summary>Every vCPU pinned to a pCPU of its own.</summary>
    Dedicated,
    /// <summary>The vCPUs in <c>hw:cpu_dedicated_mask</c> pinned, the rest shared.</summary>
    Mixed,
}

/// <summary><c>hw:cpu_thread_policy</c>: how pinned vCPUs use SMT siblings.</summary>
public enum CpuThreadPolicy
{
    /// <summary>Siblings where possible; any free threads otherwise.</summary>
    Prefer,
    /// <summary>One thread per core; the core's other threads stay unused by anyone.</summary>
    Isolate,
    /// <summary>vCPUs on sibling threads of whole free cores; the host must have SMT.</summary>
    Require,
}

/// <summary><c>hw:emulator_threads_policy</c>.</summary>
public enum EmulatorThreadsPolicy
{
    /// <summary>QEMU's emulator threads run on the VM's pCPUs (or the host's shared set).</summary>
    Share,
    /// <summary>One more dedicated pCPU for the emulator threads.</summary>
    Isolate,
}

/// <summary><c>hw:pci_numa_affinity_policy</c>: where a VF may sit relative to the guest's cells.</summary>
public enum PciNumaAffinityPolicy
{
    /// <summary>On a cell of the guest when the device's cell is known; a device of unknown cell may be used.</summary>
    Legacy,
    /// <summary>Only on a cell of the guest.</summary>
    Required,
    /// <summary>Anywhere, on a cell of the guest when there is one.</summary>
    Preferred,
    /// <summary>On a socket of one of the guest's cells.</summary>
    Socket,
}

/// <summary>The kind of port (Neutron's binding:vnic_type).</summary>
public enum VnicType
{
    /// <summary>virtio + vhost-net on Open vSwitch: no device to place.</summary>
    Normal,
    /// <summary>One VF, passed through.</summary>
    Direct,
    /// <summary>A whole PF, passed through.</summary>
    DirectPhysical,
    /// <summary>One VF behind macvtap.</summary>
    Macvtap,
    /// <summary>A vhost-vdpa device.</summary>
    Vdpa,
}

/// <summary>How a host is chosen among those that fit.</summary>
public enum Strategy
{
    /// <summary>The emptiest host: room to grow, failures hit fewer VMs.</summary>
    Spread,
    /// <summary>The fullest host that fits: keeps whole hosts free for big VMs.</summary>
    Pack,
}

/// <summary>Server group policies, as Nova's.</summary>
public enum GroupPolicy
{
    Affinity,
    AntiAffinity,
    SoftAffinity,
    SoftAntiAffinity,
}

/// <summary>Server group policies by Nova's names.</summary>
public static class GroupPolicies
{
    public const string Names = "affinity, anti-affinity, soft-affinity or soft-anti-affinity";

    public static GroupPolicy? TryParse(string? text) => text switch
    {
        "affinity" => GroupPolicy.Affinity,
        "anti-affinity" => GroupPolicy.AntiAffinity,
        "soft-affinity" => GroupPolicy.SoftAffinity,
        "soft-anti-affinity" => GroupPolicy.SoftAntiAffinity,
        _ => null,
    };

    public static GroupPolicy Parse(string text) => TryParse(text) ?? throw new ArgumentException($"'{text}' is not {Names}");

    public static string Name(GroupPolicy policy) => policy switch
    {
        GroupPolicy.Affinity => "affinity",
        GroupPolicy.AntiAffinity => "anti-affinity",
        GroupPolicy.SoftAffinity => "soft-affinity",
        _ => "soft-anti-affinity",
    };
}
