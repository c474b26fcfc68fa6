using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>The systemd drop-ins the host's isolation names, as they are (null: not there), by path.</summary>
public sealed record DropInReading(IReadOnlyDictionary<string, string?> Files) : IReading<DropInReading>
{
    public static DropInReading None { get; } = new(new Dictionary<string, string?>());
}

/// <summary>
/// Host CPU isolation by systemd (drop-ins under <c>/etc/systemd/system</c> in the root,
/// <c>systemctl daemon-reload</c>): <c>system.slice</c>, <c>user.slice</c> and <c>init.scope</c> kept
/// on the reserved CPUs (<c>AllowedCPUs=</c>; host policy, the same in every plan), written when they
/// differ, then systemd told to reload. They stay when the last server goes.
/// </summary>
public sealed class CpuIsolationFacet : IHostFacet
{
    /// <summary>Host-wide files (systemd CPU isolation drop-ins), then systemd told to reload.</summary>
    public sealed record SystemdDropIns(IReadOnlyList<HostFile> Files) : Step("");

    /// <summary>The host-wide CPU isolation (the same in every plan); null when no server has a plan.</summary>
    public static HostIsolation? Isolation(DesiredHost desired) => desired.Servers.Select(s => s.Plan?.Isolation).FirstOrDefault(i => i is not null);

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct) =>
        Task.FromResult<object?>(new DropInReading((Isolation(read.Desired)?.SliceDropIns ?? []).ToDictionary(f => f.Path, f => read.Driver.ReadHostFile(f.Path))));

    public IEnumerable<Step> PlanHost(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual)
    {
        var files = actual.Get<DropInReading>().Files;
        var changed = (Isolation(desired)?.SliceDropIns ?? []).Where(f => files.GetValueOrDefault(f.Path) != f.Content).ToList();
        if (changed.Count > 0)
            yield return new SystemdDropIns(changed);
    }

    public async Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        if (step is not SystemdDropIns d)
            throw HostFacets.NotMine(this, step);
        foreach (var file in d.Files)
            hands.Driver.WriteHostFile(file.Path, file.Content);
        await hands.Driver.ReloadSystemdAsync(ct);
    }
}
