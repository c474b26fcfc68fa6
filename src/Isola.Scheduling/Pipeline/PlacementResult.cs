namespace Isola.Scheduling.Pipeline;

/// <summary>How many hosts were turned down for one reason, with one host's words as an example.</summary>
public sealed record RejectionCount(RejectionCode Code, int Hosts, string? Example)
{
    public override string ToString() => $"{Hosts} host(s): {Rejection.Describe(Code)}{(Example is null ? "" : $" (e.g. {Example})")}";
}

/// <summary>A placement, or none, with the reasons hosts were turned down (Nomad's AllocMetric).</summary>
/// <param name="HostsEvaluated">Hosts the filters and the fit looked at.</param>
/// <param name="HostsSkipped">Hosts the index ruled out without looking (they cannot hold the biggest guest cell).</param>
public sealed record PlacementResult(Placement? Placement, IReadOnlyList<RejectionCount> Rejections, int HostsEvaluated, int HostsSkipped)
{
    public bool Succeeded => Placement is not null;

    public string Explain() => Succeeded
        ? $"placed on {Placement!.Host}"
        : Rejections.Count == 0 ? "no host in the fleet" : "no valid host: " + string.Join("; ", Rejections);
}
