namespace Isola.Scheduling.Pipeline;

/// <summary>Why a host cannot take a request. Each has one meaning and one text.</summary>
public enum RejectionCode
{
    AvailabilityZone,
    Aggregate,
    GroupAffinity,
    GroupAntiAffinity,
    SharedCpus,
    DedicatedCpus,
    ThreadPolicy,
    NumaCells,
    Memory,
    Hugepages,
    NumaFit,
    NoPhysnet,
    NoFreeVf,
    VfNumaAffinity,
    HaDistinctPfs,
    HaDistinctAdapters,
    VfDriverCapability,
    NoFreePf,
    NoVdpaDevice,
    HostDisabled,
    AgentDown,
    HostUnusable,
    HostExcluded,
}

/// <summary>A host's rejection: the code and what exactly it lacked.</summary>
public sealed record Rejection(RejectionCode Code, string Detail)
{
    /// <summary>The reason in general words, for counting across hosts.</summary>
    public static string Describe(RejectionCode code) => code switch
    {
        RejectionCode.AvailabilityZone => "not in the requested availability zone",
        RejectionCode.Aggregate => "not in every requested aggregate",
        RejectionCode.GroupAffinity => "not the host of the server group (affinity)",
        RejectionCode.GroupAntiAffinity => "already holds a member of the server group (anti-affinity)",
        RejectionCode.SharedCpus => "not enough shared CPU capacity",
        RejectionCode.DedicatedCpus => "not enough free dedicated pCPUs in a NUMA cell",
        RejectionCode.ThreadPolicy => "no SMT, which cpu_thread_policy=require needs",
        RejectionCode.NumaCells => "fewer NUMA cells than the guest has",
        RejectionCode.Memory => "not enough free memory",
        RejectionCode.Hugepages => "not enough free hugepages of the asked size in a NUMA cell",
        RejectionCode.NumaFit => "no assignment of guest cells to host cells fits",
        RejectionCode.NoPhysnet => "no SR-IOV PF on the requested physnet",
        RejectionCode.NoFreeVf => "no free VF on the requested physnet",
        RejectionCode.VfNumaAffinity => "no free VF on the guest's NUMA cells (pci_numa_affinity_policy)",
        RejectionCode.HaDistinctPfs => "fewer than two PFs with a free VF on the physnet (HA bond)",
        RejectionCode.HaDistinctAdapters => "no two adapters with a free VF on the physnet (HA port that demands distinct adapters)",
        RejectionCode.VfDriverCapability => "no PF on the physnet whose driver can do what the port asks of its VF (min TX rate, 802.1ad, link state)",
        RejectionCode.NoFreePf => "no wholly free PF on the physnet (direct-physical)",
        RejectionCode.NoVdpaDevice => "no vDPA device on the physnet",
        RejectionCode.HostDisabled => "disabled by an operator",
        RejectionCode.AgentDown => "its agent is down (reported before, silent since)",
        RejectionCode.HostUnusable => "its stored inventory or placements cannot be used",
        RejectionCode.HostExcluded => "the host the server leaves (a migration goes elsewhere)",
        _ => code.ToString(),
    };

    public override string ToString() => $"{Describe(Code)}: {Detail}";
}
