namespace Isola.Scheduling.Requests;

/// <summary>Everything placement needs for one server.</summary>
/// <param name="Group">A server group the server belongs to (its policy is the fleet's record).</param>
/// <param name="AvailabilityZone">Only hosts in this zone.</param>
/// <param name="Aggregates">Only hosts in every one of these aggregates.</param>
/// <param name="ExcludedHosts">Hosts it may not go to (a cold migration leaves the host it is on).</param>
public sealed record PlacementRequest(
    string Server,
    ComputeRequest Compute,
    IReadOnlyList<PortRequest> Ports,
    string? Group = null,
    string? AvailabilityZone = null,
    IReadOnlyList<string>? Aggregates = null,
    Strategy Strategy = Strategy.Spread,
    IReadOnlyList<string>? ExcludedHosts = null)
{
    /// <summary>Builds a request from a flavor and ports, validating both; every error is reported.</summary>
    public static PlacementRequest Create(string server, Flavor flavor, IReadOnlyList<PortRequest> ports,
        string? group = null, string? availabilityZone = null, IReadOnlyList<string>? aggregates = null, Strategy strategy = Strategy.Spread)
    {
        var errors = new List<RequestError>();
        ComputeRequest? compute = null;
        try
        {
            compute = ExtraSpecs.Parse(flavor);
        }
        catch (RequestValidationException e)
        {
            errors.AddRange(e.Errors);
        }
        errors.AddRange(ports.SelectMany((p, i) => p.Validate(i)));
        foreach (var dup in ports.GroupBy(p => p.Name).Where(g => g.Count() > 1))
            errors.Add(new RequestError("ports", $"port '{dup.Key}' is given twice"));
        return errors.Count > 0 ? throw new RequestValidationException(errors)
            : new PlacementRequest(server, compute!, ports, group, availabilityZone, aggregates, strategy);
    }
}
