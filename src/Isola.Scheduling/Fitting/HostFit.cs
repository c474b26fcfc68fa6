using Isola.Scheduling.Pipeline;

namespace Isola.Scheduling.Fitting;

/// <summary>How a request fits one host: every resource chosen, nothing taken yet.</summary>
/// <param name="VfFreeShare">Mean share of free VFs in the pools the VFs come from, before taking them.</param>
/// <param name="CoresBroken">Whole free cores the pins leave partly used.</param>
/// <param name="CoresTouched">Cores the pins use.</param>
public sealed record HostFit(
    IReadOnlyList<CellPlacement>? Cells,
    IReadOnlyList<int> EmulatorPins,
    IReadOnlyList<int> EmulatorReserved,
    int FloatingVcpus,
    IReadOnlyList<MemoryCharge> FloatingMemory,
    IReadOnlyList<VfAssignment> Vfs,
    IReadOnlyList<PfAssignment> Pfs,
    double VfFreeShare = 1,
    int CoresBroken = 0,
    int CoresTouched = 0);

/// <summary>A fit, or the reason there is none.</summary>
public readonly record struct FitResult(HostFit? Fit, Rejection? Rejection)
{
    public static implicit operator FitResult(HostFit fit) => new(fit, null);

    public static implicit operator FitResult(Rejection rejection) => new(null, rejection);
}
