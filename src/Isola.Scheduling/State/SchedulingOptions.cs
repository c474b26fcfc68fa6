namespace Isola.Scheduling.State;

/// <summary>How hosts are accounted and how hard the scheduler looks.</summary>
/// <param name="CpuAllocationRatio">Shared vCPUs per shared pCPU (Nova's cpu_allocation_ratio).</param>
/// <param name="ReservedMemoryPerCellMiB">Small-page memory per NUMA cell kept for the host.</param>
/// <param name="CandidateLimit">Hosts that fit to score before choosing (Nomad's limit); the search
/// goes on past this only while fewer have been found.</param>
/// <param name="NaiveFullScan">Look at every host and score every fit, ignoring the index and the
/// candidate limit: the baseline the benchmark compares against. Same answers' validity, slower.</param>
public sealed record SchedulingOptions(double CpuAllocationRatio = 4.0, long ReservedMemoryPerCellMiB = 512, int CandidateLimit = 4, bool NaiveFullScan = false)
{
    public static SchedulingOptions Default { get; } = new();
}
