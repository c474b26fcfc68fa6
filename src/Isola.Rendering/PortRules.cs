using Isola.Domain.Pci;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>
/// The rules a port's settings must keep for its host plan to be made: one set, used by the API
/// when a port is created and by the host planner when it renders one, so the two never disagree.
/// Fields are named as the API names them, after a prefix (<c>""</c> for the API, <c>"ports[0]."</c>
/// for a plan).
/// </summary>
public static class PortRules
{
    /// <summary>At most this many vCPUs handle one port's queues.</summary>
    public const int MaxIrqVcpus = 64;

    /// <summary>vCPU numbers are below this (libvirt's and QEMU's limit for a q35 guest is lower still).</summary>
    public const int MaxVcpu = 1024;

    /// <summary>At most this many virtio queue pairs per port.</summary>
    public const int MaxQueues = 16;

    /// <summary>The rules that need no host: VLAN, priority, protocol, rates, an HA bond's spoof check and legs.</summary>
    public static IReadOnlyList<RequestError> Check(PortSpec port, string fieldPrefix = "")
    {
        var errors = new List<RequestError>();
        void Add(string field, string message) => errors.Add(new RequestError(fieldPrefix + field, message));
        if (port.Vlan is < 0 or > 4094)
            Add("vlan", "must be 0-4094");
        if (port.VlanQos is < 0 or > 7)
            Add("vlanQos", "must be 0-7 (802.1p priority)");
        if (port.VlanProtocol is not ("802.1Q" or "802.1ad"))
            Add("vlanProtocol", "must be 802.1Q or 802.1ad");
        if (port.MaxTxRateMbps < 0)
            Add("maxTxRateMbps", "a rate is never negative");
        if (port.MinTxRateMbps < 0)
            Add("minTxRateMbps", "a rate is never negative");
        if (port.MaxTxRateMbps > 0 && port.MinTxRateMbps > port.MaxTxRateMbps)
            Add("minTxRateMbps", $"the minimum ({port.MinTxRateMbps} Mbps) must not exceed maxTxRateMbps ({port.MaxTxRateMbps} Mbps)");
        if (port.Ha && !port.SpoofCheck)
            Add("spoofCheck", "an HA bond keeps spoof check on: both VFs carry the port's one MAC");
        if (port.HaDistinctAdapters && !port.Ha)
            Add("haDistinctAdapters", "only an HA port has two legs to keep on distinct adapters");
        if (port.IrqVcpus is { } vcpus)
        {
            if (vcpus.Count is 0 or > MaxIrqVcpus)
                Add("irqVcpus", $"1 to {MaxIrqVcpus} guest vCPU numbers (queue q is handled by the (q mod n)-th), or leave it out");
            else if (vcpus.Any(v => v is < 0 or >= MaxVcpu))
                Add("irqVcpus", $"a guest vCPU number is 0-{MaxVcpu - 1}");
            else if (vcpus.Distinct().Count() != vcpus.Count)
                Add("irqVcpus", "each vCPU once");
        }
        if (port.Queues is { } queues)
        {
            if (!port.Kind.ServedByVhostNet)
                Add("queues", $"a {port.Kind.Title} port's queues are its device's, as the guest's driver sets them up; only normal and macvtap (virtio) ports take queues");
            else if (queues is < 1 or > MaxQueues)
                Add("queues", $"virtio queue pairs: 1-{MaxQueues}");
        }
        return errors;
    }

    /// <summary>
    /// What the port's VFs need of their PF driver: a guaranteed rate, an 802.1ad VLAN protocol, a
    /// forced link state. Only ports whose VFs Isola programs (direct, macvtap) need anything.
    /// </summary>
    public static VfNeeds NeedsOf(PortSpec port)
    {
        if (!port.Kind.ProgramsVf)
            return VfNeeds.None;
        var needs = VfNeeds.None;
        if (port.MinTxRateMbps > 0)
            needs |= VfNeeds.MinTxRate;
        if (port.VlanProtocol == "802.1ad")
            needs |= VfNeeds.VlanProtocol8021ad;
        if (port.LinkState != VfLinkState.Auto)
            needs |= VfNeeds.LinkState;
        return needs;
    }

    /// <summary>The rule that needs the host: what the port needs, which its VF's PF driver cannot do (the scheduler gives no such VF; this is the last defence).</summary>
    public static IReadOnlyList<RequestError> CheckDriver(PortSpec port, VfDriverCapabilities driver, string fieldPrefix = "")
    {
        var lacks = driver.Lacks(NeedsOf(port));
        var errors = new List<RequestError>();
        if ((lacks & VfNeeds.VlanProtocol8021ad) != 0)
            errors.Add(new RequestError(fieldPrefix + "vlanProtocol", $"{driver.Driver} VFs take only 802.1Q port VLANs"));
        if ((lacks & VfNeeds.LinkState) != 0)
            errors.Add(new RequestError(fieldPrefix + "linkState", $"{driver.Driver} VFs have no settable link state (they follow the PF)"));
        if ((lacks & VfNeeds.MinTxRate) != 0)
            errors.Add(new RequestError(fieldPrefix + "minTxRateMbps", $"{driver.Driver} cannot guarantee a VF a minimum rate"));
        return errors;
    }
}
