using Isola.Scheduling.Requests;

namespace Isola.Scheduling.Fitting;

/// <summary>What every host check of one request needs, worked out once per request.</summary>
public sealed class RequestContext
{
    public RequestContext(PlacementRequest request)
    {
        Request = request;
        var compute = request.Compute;
        Cells = compute.Cells;
        PinsPerCell = Cells?.Select((c, i) => c.DedicatedVcpus.Count + (i == 0 ? compute.EmulatorPcpus : 0)).ToArray() ?? [];
        TotalPins = PinsPerCell.Sum();
        MaxCellPins = PinsPerCell.Length == 0 ? 0 : PinsPerCell.Max();
        FloatingVcpus = compute.SharedVcpus;
        FloatingMemMiB = Cells is null ? compute.RamMiB : 0;
        UsesSmallPages = Cells is null || compute.PageSize.Kind is PageSizeKind.Default or PageSizeKind.Small;
        // The most constrained first: whole PFs, then ports that need more of the PF driver, then
        // macvtap (only VFs with a host netdev), then HA bonds (two distinct adapters, two distinct
        // PFs), then single VFs (any VF). The order is the allocator's first try, not its only one.
        DevicePorts = request.Ports.Where(p => p.NeedsDevice)
            .OrderBy(p => p.Kind.Device == PortDevice.WholePf ? 0 : 1)
            .ThenByDescending(p => System.Numerics.BitOperations.PopCount((uint)p.Needs))
            .ThenBy(p => p.Kind.NeedsNetDev ? 0 : !p.Ha ? 3 : p.HaDistinctAdapters ? 1 : 2).ToArray();
        PrefersDistinctAdapters = DevicePorts.Any(p => p.Ha && !p.HaDistinctAdapters);
        VfDemand = DevicePorts.GroupBy(p => p.Physnet!).ToDictionary(g => g.Key, g => g.Sum(p => p.VfCount), StringComparer.Ordinal);
        TotalVfs = VfDemand.Values.Sum();
        MacvtapPhysnets = DevicePorts.Where(p => p.Kind.NeedsNetDev).Select(p => p.Physnet!).ToHashSet(StringComparer.Ordinal);
        SmallMemDemandMiB = UsesSmallPages ? compute.RamMiB : 0;
    }

    public PlacementRequest Request { get; }

    public ComputeRequest Compute => Request.Compute;

    public IReadOnlyList<GuestCell>? Cells { get; }

    /// <summary>pCPUs each guest cell pins: its dedicated vCPUs, plus the emulator's on cell 0.</summary>
    public int[] PinsPerCell { get; }

    public int TotalPins { get; }

    public int MaxCellPins { get; }

    public int FloatingVcpus { get; }

    public long FloatingMemMiB { get; }

    public bool UsesSmallPages { get; }

    public long SmallMemDemandMiB { get; }

    public PortRequest[] DevicePorts { get; }

    public int TotalVfs { get; }

    /// <summary>Choices the VF allocator may still try for this request, over all hosts (<see cref="VfAllocator.SearchBudget"/>).</summary>
    internal int ChoicesLeft { get; private set; } = VfAllocator.SearchBudget;

    /// <summary>Counts one choice against the request's budget: a first choice is always allowed, another only while the budget lasts.</summary>
    internal bool TakeChoice(bool first)
    {
        ChoicesLeft--;
        return first || ChoicesLeft >= 0;
    }

    /// <summary>An HA port would rather have its legs on two adapters but takes one card's two ports if it must.</summary>
    public bool PrefersDistinctAdapters { get; }

    /// <summary>Physnets on which the request has macvtap ports (they need VFs with a host netdev).</summary>
    public IReadOnlySet<string> MacvtapPhysnets { get; }

    /// <summary>VFs needed per physnet.</summary>
    public IReadOnlyDictionary<string, int> VfDemand { get; }
}
