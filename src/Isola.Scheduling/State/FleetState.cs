using Isola.Domain.Topology;
using Isola.Scheduling.Requests;

namespace Isola.Scheduling.State;

/// <summary>The members of a server group, counted per host.</summary>
public sealed class GroupState(string name, GroupPolicy policy)
{
    public string Name { get; } = name;

    public GroupPolicy Policy { get; } = policy;

    public Dictionary<int, int> MembersByHost { get; } = [];
}

/// <summary>
/// The fleet as the scheduler sees it: every host's free resources, server groups, and the indexes
/// that find hosts by what they can still take. Placements change it only through
/// <see cref="TryClaim"/> and <see cref="Release"/>; each bumps the host's generation, so a plan made
/// on a stale view of a host cannot be committed.
/// </summary>
public sealed class FleetState(SchedulingOptions options)
{
    private readonly List<HostState> _hosts = [];
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupState> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostIndex> _zones = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    public FleetState() : this(SchedulingOptions.Default)
    {
    }

    public SchedulingOptions Options { get; } = options;

    public IReadOnlyList<HostState> Hosts => _hosts;

    public HostIndex Index { get; } = new();

    public IReadOnlyDictionary<string, GroupState> Groups => _groups;

    /// <param name="name">The host's name when not the topology's own (many hosts may share one topology object).</param>
    public HostState AddHost(HostTopology topology, string? zone = null, IEnumerable<string>? aggregates = null, string? name = null)
    {
        name ??= topology.Hostname;
        if (_byName.ContainsKey(name))
            throw new ArgumentException($"host '{name}' is in the fleet already");
        var host = HostState.Create(_hosts.Count, name, topology, Options, zone, aggregates?.ToHashSet(StringComparer.Ordinal));
        _hosts.Add(host);
        _byName[host.Name] = host.Index;
        Reindex(host);
        return host;
    }

    /// <summary>
    /// Rebuilds one host from its inventory and the placements committed on it (from the store,
    /// after another process changed it), keeping its index, zone and aggregates. Never throws for
    /// what the store holds: when a placement does not fit the inventory (or <paramref name="unusable"/>
    /// says the store's word cannot be used), the host is <see cref="HostState.Unusable"/> — it holds
    /// nothing here and takes no new servers — and the rest of the fleet goes on.
    /// </summary>
    /// <param name="topology">A new inventory for the host; null keeps the one it has.</param>
    /// <param name="unusable">Why the store's word for the host cannot be used (its inventory row does not read), if it cannot.</param>
    public HostState ResetHost(string name, IEnumerable<Placement> placements, HostTopology? topology = null, string? unusable = null)
    {
        lock (_lock)
        {
            var old = Host(name) ?? throw new ArgumentException($"host '{name}' is not in the fleet");
            var list = placements.ToList();
            HostState Fresh() => HostState.Create(old.Index, name, topology ?? old.Topology, Options, old.AvailabilityZone, old.Aggregates,
                list.SelectMany(p => p.Vfs.Select(v => v.Vf)).ToHashSet());
            var host = Fresh();
            unusable ??= Fill(host, list);
            if (unusable is not null)
                host = Fresh();
            host.Unusable = unusable;
            host.Disabled = old.Disabled;
            host.AgentDown = old.AgentDown;
            // Past any plan made on the old view, whatever the placements add up to.
            host.Generation = old.Generation + 1;
            _hosts[old.Index] = host;
            foreach (var group in _groups.Values)
                group.MembersByHost.Remove(old.Index);
            // Group members count where they are, usable or not: an affinity group stays bound to its host.
            foreach (var placement in list)
                Count(host, placement, take: true);
            Reindex(host);
            return host;
        }
    }

    /// <summary>
    /// Whether a host with <paramref name="topology"/> can hold every one of <paramref name="placements"/>
    /// at once, as the fleet would take them: null when it can, else the first that does not fit and why.
    /// </summary>
    public static string? Misfit(HostTopology topology, IReadOnlyList<Placement> placements, SchedulingOptions options) =>
        Fill(HostState.Create(0, topology.Hostname, topology, options, heldVfs: placements.SelectMany(p => p.Vfs.Select(v => v.Vf)).ToHashSet()), placements);

    // Takes each placement on a fresh host; the first that does not fit, and why (what it took stays taken).
    private static string? Fill(HostState host, IReadOnlyList<Placement> placements)
    {
        foreach (var placement in placements)
        {
            if (Check(host, placement) is { } conflict)
                return $"the stored placement of {placement.Server} does not fit {host.Name}: {conflict}";
            Resources(host, placement, take: true);
        }
        return null;
    }

    /// <summary>Takes a host out of scheduling (or back in); what it holds stays.</summary>
    public void SetDisabled(string name, bool disabled)
    {
        lock (_lock)
            (Host(name) ?? throw new ArgumentException($"host '{name}' is not in the fleet")).Disabled = disabled;
    }

    /// <summary>Marks a host whose agent fell silent (or reports again); what it holds stays.</summary>
    public void SetAgentDown(string name, bool down)
    {
        lock (_lock)
            (Host(name) ?? throw new ArgumentException($"host '{name}' is not in the fleet")).AgentDown = down;
    }

    public GroupState AddGroup(string name, GroupPolicy policy)
    {
        if (_groups.ContainsKey(name))
            throw new ArgumentException($"server group '{name}' exists already");
        return _groups[name] = new GroupState(name, policy);
    }

    public HostState? Host(string name) => _byName.TryGetValue(name, out var i) ? _hosts[i] : null;

    /// <summary>The index to search: the zone's, or the whole fleet's.</summary>
    public HostIndex? IndexFor(string? zone) => zone is null ? Index : _zones.GetValueOrDefault(zone);

    /// <summary>
    /// Commits a placement: takes every pCPU, page, VF and PF it names, if the host is still at the
    /// generation the plan was made on and every resource is still free. All or nothing.
    /// </summary>
    public bool TryClaim(Placement placement, out string? conflict)
    {
        lock (_lock)
        {
            var host = Host(placement.Host);
            conflict = host is null ? $"host {placement.Host} is not in the fleet"
                : host.Unusable is { } why ? $"host {host.Name} cannot be used: {why}"
                : host.Generation != placement.HostGeneration ? $"host {host.Name} changed (generation {host.Generation}, plan made on {placement.HostGeneration})"
                : Check(host, placement);
            if (conflict is not null)
                return false;
            Apply(host!, placement, take: true);
            return true;
        }
    }

    /// <summary>
    /// Gives back everything a committed placement took. The host's free state is then what it was
    /// before the claim. On an <see cref="HostState.Unusable"/> host (which holds nothing here) it does nothing.
    /// </summary>
    public void Release(Placement placement)
    {
        lock (_lock)
        {
            var host = Host(placement.Host) ?? throw new ArgumentException($"host {placement.Host} is not in the fleet");
            if (host.Unusable is not null)
                return; // it holds nothing in this view
            if (Held(host, placement) is { } missing)
                throw new InvalidOperationException($"cannot release {placement.Server} from {host.Name}: {missing}; nothing was changed");
            Apply(host, placement, take: false);
        }
    }

    private static string? Check(HostState host, Placement p)
    {
        // Within one placement too: a pCPU, VF or PF appears once.
        var pinned = p.AllPinned.ToList();
        if (pinned.Count != pinned.Distinct().Count())
            return "the placement names a pCPU twice";
        if (p.Vfs.Select(v => v.Vf).Distinct().Count() != p.Vfs.Count || p.Pfs.Select(x => x.Pf).Distinct().Count() != p.Pfs.Count)
            return "the placement names a VF or PF twice";
        foreach (var kind in ClaimKinds.All)
        {
            if (kind.Free(host, p) is { } conflict)
                return conflict;
        }
        return null;
    }

    /// <summary>Whether every pCPU, VF and PF of a placement is held now (so releasing it changes only what it took).</summary>
    private static string? Held(HostState host, Placement p)
    {
        foreach (var kind in ClaimKinds.All)
        {
            if (kind.Held(host, p) is { } missing)
                return missing;
        }
        return null;
    }

    private void Apply(HostState host, Placement p, bool take)
    {
        Resources(host, p, take);
        Count(host, p, take);
        host.Generation++;
        Reindex(host);
    }

    // The pCPUs, memory, pages, VFs and PFs of a placement, taken or given back.
    private static void Resources(HostState host, Placement p, bool take)
    {
        foreach (var kind in ClaimKinds.All)
            kind.Move(host, p, take);
    }

    // The placement's server group member count on the host.
    private void Count(HostState host, Placement p, bool take)
    {
        if (p.Group is not null && _groups.TryGetValue(p.Group, out var group))
        {
            var count = group.MembersByHost.GetValueOrDefault(host.Index) + (take ? 1 : -1);
            if (count > 0)
                group.MembersByHost[host.Index] = count;
            else
                group.MembersByHost.Remove(host.Index);
        }
    }

    private void Reindex(HostState host)
    {
        Index.Update(host);
        if (host.AvailabilityZone is { } zone)
        {
            if (!_zones.TryGetValue(zone, out var index))
                _zones[zone] = index = new HostIndex();
            index.Update(host);
        }
    }
}
