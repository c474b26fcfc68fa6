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
        // The most constrained first: whole PFs, then macvtap (only VFs with a host netdev), then HA
        // bonds (two distinct PFs), then single VFs (any VF).
        DevicePorts = request.Ports.Where(p => p.NeedsDevice)
            .OrderBy(p => p.VnicType switch { VnicType.DirectPhysical => 0, VnicType.Macvtap => 1, _ => p.Ha ? 2 : 3 }).ToArray();
        VfDemand = DevicePorts.GroupBy(p => p.Physnet!).ToDictionary(g => g.Key, g => g.Sum(p => p.VfCount), StringComparer.Ordinal);
        TotalVfs = VfDemand.Values.Sum();
        MacvtapPhysnets = DevicePorts.Where(p => p.VnicType == VnicType.Macvtap).Select(p => p.Physnet!).ToHashSet(StringComparer.Ordinal);
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

    /// <summary>Physnets on which the request has macvtap ports (they need VFs with a host netdev).</summary>
    public IReadOnlySet<string> MacvtapPhysnets { get; }

    /// <summary>VFs needed per physnet.</summary>
    public IReadOnlyDictionary<string, int> VfDemand { get; }
}
