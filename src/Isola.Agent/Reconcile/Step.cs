namespace Isola.Agent.Reconcile;

/// <summary>
/// One thing to do on the host, for one server (<see cref="Server"/> "": for the host as a whole).
/// Each facet declares its own steps beside it (<c>Isola.Agent.Facets</c>); the two here are the
/// agent's own bookkeeping, first on a server's way in and last on its way out.
/// </summary>
public abstract record Step(string Server)
{
    /// <summary>A server new to this agent is written down (its state-directory file) before anything is done to the host.</summary>
    public sealed record Remember(AppliedServer Applied) : Step(Applied.Id);

    /// <summary>A server that left is forgotten once everything else of it is gone (its file goes last: an agent killed before finishes the rest next time).</summary>
    public sealed record Forget(string Id) : Step(Id);
}
