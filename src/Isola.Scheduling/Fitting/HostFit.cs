using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// How a request fits one host: the <see cref="Placement"/> it would be (every resource chosen,
/// nothing taken yet, not scored) and what the scorers read about it.
/// </summary>
/// <param name="Placement">The placement, with a score of 0 until the scheduler scores it.</param>
/// <param name="VfFreeShare">Mean share of free VFs in the pools the VFs come from, before taking them.</param>
/// <param name="CoresBroken">Whole free cores the pins leave partly used.</param>
/// <param name="CoresTouched">Cores the pins use.</param>
public sealed record HostFit(Placement Placement, double VfFreeShare = 1, int CoresBroken = 0, int CoresTouched = 0)
{
    /// <summary>The fit of <paramref name="ctx"/>'s request on <paramref name="host"/> at its current generation.</summary>
    public static HostFit Of(
        HostState host,
        RequestContext ctx,
        IReadOnlyList<CellPlacement>? cells,
        IReadOnlyList<int> emulatorPins,
        IReadOnlyList<int> emulatorReserved,
        IReadOnlyList<MemoryCharge> floatingMemory,
        IReadOnlyList<VfAssignment> vfs,
        IReadOnlyList<PfAssignment> pfs,
        double vfFreeShare,
        int coresBroken = 0,
        int coresTouched = 0) =>
        new(new Placement(ctx.Request.Server, host.Name, host.Generation, cells, emulatorPins, emulatorReserved, ctx.FloatingVcpus,
            floatingMemory, vfs, pfs, ctx.Request.Group, Score: 0), vfFreeShare, coresBroken, coresTouched);
}

/// <summary>A fit, or the reason there is none.</summary>
public readonly record struct FitResult(HostFit? Fit, Rejection? Rejection)
{
    public static implicit operator FitResult(HostFit fit) => new(fit, null);

    public static implicit operator FitResult(Rejection rejection) => new(null, rejection);
}
