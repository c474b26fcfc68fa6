using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;
using Isola.Store.Resources;

namespace Isola.Store.Lifecycle;

/// <summary>A server as its host's agent needs it.</summary>
/// <param name="PlanVersion">Moves when its spec changes after the create (a rebuild): its plan is made again.</param>
/// <param name="CleanShutdown">Whether a stop or soft reboot still asks its guest to shut down cleanly (its shutdown deadline has not passed).</param>
/// <param name="Move">The resize or migration between hosts the host is one end of; null: none.</param>
public sealed record AssignedServerRow(string Id, string ProjectId, string Name, string Status, string? TaskState, string PowerState, string? VmState,
    StoredDocument<Placement> Placement, StoredDocument<ServerSpec>? Spec, int PlanVersion = 0, bool CleanShutdown = false, AssignedMove? Move = null);

/// <summary>A resize or migration between hosts, as one end holds it (<see cref="ServerMoveStore"/>).</summary>
/// <param name="Source">Whether the host is the one the server left (it keeps the domain shut off, and sends the disk).</param>
public sealed record AssignedMove(string MigrationId, bool Source, bool DiskSent);

/// <summary>A port bound to a server on the host.</summary>
public sealed record AssignedPortRow(string Id, string Name, string ServerId, string Mac, string Status);

/// <summary>Everything a host should hold, at a revision.</summary>
/// <param name="InventoryStamp">When the host's inventory was last registered: plans rendered from an older one are stale.</param>
public sealed record HostDesired(string Host, long Revision, long AppliedRevision, string? HeartbeatAt, IReadOnlyList<AssignedServerRow> Servers,
    IReadOnlyList<AssignedPortRow> Ports, string InventoryStamp = "");

/// <summary>What an agent reports: the revision it applied, its domains' states, its ports' statuses.</summary>
/// <param name="DiskVersions">The plan version each server's root disk was made at, where the agent says (a rebuild waits for the new one).</param>
/// <param name="Leaving">The servers the agent is still taking down (it holds something of theirs that the desired state no longer has); null: not said (an older agent).</param>
public sealed record AgentReport(long AppliedRevision, IReadOnlyDictionary<string, string> VmStates, IReadOnlyDictionary<string, string> PortStatuses,
    IReadOnlyDictionary<string, int>? DiskVersions = null, IReadOnlySet<string>? Leaving = null);

/// <summary>A server's move caused by a report.</summary>
public sealed record ServerTransition(string ServerId, string FromStatus, string? FromTask, LifecycleStep To);

/// <summary>A report naming servers or ports that are not on the reporting host.</summary>
public sealed class ForeignResourceException(string message) : Exception(message);

/// <summary>A host's agent as the store knows it.</summary>
/// <param name="Heartbeat">When it last reported; null when it never did.</param>
/// <param name="DownAt">When the scheduler began skipping the host because its agent fell silent; null when it does not.</param>
/// <param name="Enabled">Whether the host takes new servers by its operator's word.</param>
public sealed record AgentStatus(long Revision, long Applied, string? Heartbeat, string? DownAt, bool Enabled);

/// <summary>A server in BUILD past its deadline.</summary>
public sealed record OverdueServer(string Id, string Host, string Name, string? TaskState, string? VmState, IReadOnlyList<(string Port, string Status)> Ports);

/// <summary>The store's side of the server lifecycle: each host's desired state and revision, agents' reports, overdue builds.</summary>
public sealed class LifecycleStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    public async Task<long?> RevisionAsync(string host)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteScalarAsync<long?>("SELECT revision FROM hosts WHERE name = @host", new { host });
    }

    /// <summary>The host's desired state: every server on it that holds resources, with its bound ports. Null for an unknown host.</summary>
    public async Task<HostDesired?> DesiredAsync(string host)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginReadAsync();
        var heads = await c.RowsAsync("SELECT revision, applied_revision, heartbeat_at, updated_at FROM hosts WHERE name = @host", new { host },
            r => (Revision: r.Long(0), Applied: r.Long(1), Heartbeat: r.NullableString(2), Stamp: r.GetString(3)), tx);
        if (heads.Count == 0)
            return null;
        var head = heads[0];
        // A server that moves between hosts (a resize or migration neither confirmed nor reverted) is on both: the destination
        // holds it once its disk was sent; the source keeps it, shut off, on the placement it left.
        // (An evacuation is not of these: the host it left is to take the server down; the one it went to makes it from its image.)
        var moves = await c.RowsAsync($"""
            SELECT id, server_id, source_host, dest_host, disk_sent FROM server_migrations
            WHERE (source_host = @host OR dest_host = @host) AND source_host <> dest_host AND status IN ('migrating', 'finished')
            """, new { host }, r => (Id: r.GetString(0), Server: r.GetString(1), Source: r.GetString(2), Dest: r.GetString(3), Sent: r.Bool(4)), tx);
        var arriving = moves.Where(m => m.Dest == host).ToDictionary(m => m.Server, StringComparer.Ordinal);
        var servers = (await c.RowsAsync($"""
            SELECT id, project_id, name, status, task_state, power_state, vm_state, placement, spec, plan_version, shutdown_deadline FROM servers
            WHERE host = @host AND status IN ({ServerStatus.HoldingList}) ORDER BY created_at, id
            """, new { host }, r => new AssignedServerRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.GetString(5),
                r.NullableString(6), r.Document<Placement>(7), r.NullableDocument<ServerSpec>(8), (int)r.Long(9), r.NullableString(10) is not null), tx))
            .Where(s => !arriving.TryGetValue(s.Id, out var m) || m.Sent)
            .Select(s => arriving.TryGetValue(s.Id, out var m) ? s with { Move = new AssignedMove(m.Id, Source: false, DiskSent: true) } : s)
            .ToList();
        foreach (var m in moves.Where(m => m.Source == host))
        {
            servers.AddRange(await c.RowsAsync("""
                SELECT s.id, s.project_id, s.name, s.status, s.task_state, m.source_vm_state, m.source_placement, m.source_spec, m.source_plan_version, s.shutdown_deadline
                FROM server_migrations m JOIN servers s ON s.id = m.server_id WHERE m.id = @id
                """, new { id = m.Id }, r => new AssignedServerRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4),
                    PowerState.Shutoff, r.NullableString(5), r.Document<Placement>(6), r.NullableDocument<ServerSpec>(7), (int)r.Long(8),
                    r.NullableString(9) is not null, new AssignedMove(m.Id, Source: true, m.Sent)), tx));
        }
        var ports = await c.RowsAsync($"""
            SELECT p.id, p.name, p.server_id, p.mac, p.status FROM ports p JOIN servers s ON s.id = p.server_id
            WHERE s.host = @host AND s.status IN ({ServerStatus.HoldingList}) ORDER BY p.server_id, p.name
            """, new { host }, r => new AssignedPortRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4)), tx);
        await tx.CommitAsync();
        return new HostDesired(host, head.Revision, head.Applied, head.Heartbeat, servers, ports, head.Stamp);
    }

    /// <summary>
    /// Takes an agent's report in one transaction: heartbeat, applied revision, domain states, port
    /// statuses, and each affected server's next lifecycle step. The host's revision moves when a
    /// step changes what the agent should do. A host marked down is up again, and its generation
    /// moves (<see cref="AgentBackUp"/>: the caller's fleet reads it again). Servers and ports of
    /// other hosts are refused, all of the report with them; those that are gone (deleted, or in ERROR) are passed over.
    /// </summary>
    /// <remarks>The answer's <c>Evacuated</c>: the servers evacuated off this host that its agent reports gone now (the caller releases the claims they left here).</remarks>
    public async Task<(IReadOnlyList<ServerTransition> Transitions, bool RevisionMoved, bool AgentBackUp, IReadOnlyList<string> Evacuated)> ApplyReportAsync(string host,
        AgentReport report)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var servers = (await c.RowsAsync($"""
            SELECT id, status, task_state, power_state, vm_state, power_after, plan_version, project_id FROM servers
            WHERE host = @host AND status IN ({ServerStatus.HoldingList})
            """, new { host }, r => (Id: r.GetString(0), Status: r.GetString(1), Task: r.NullableString(2), Power: r.GetString(3), Vm: r.NullableString(4),
                After: r.NullableString(5), Version: (int)r.Long(6), Project: r.GetString(7)), tx))
            .ToDictionary(s => s.Id, StringComparer.Ordinal);
        var ports = (await c.RowsAsync($"""
            SELECT p.id, p.server_id, p.status FROM ports p JOIN servers s ON s.id = p.server_id
            WHERE s.host = @host AND s.status IN ({ServerStatus.HoldingList})
            """, new { host }, r => (Id: r.GetString(0), Server: r.GetString(1), Status: r.GetString(2)), tx)).ToDictionary(p => p.Id, StringComparer.Ordinal);
        // The moves this host is one end of, read once (a report comes every cycle), and what each means for it:
        // - leaving: servers that left it for another (a resize or migration in progress): what the agent says of their domains
        //   here is the migration's (their disk is sent once shut off), not the servers' (ServerMoveStore);
        // - evacuated: servers evacuated off it while its agent was down, or taken back off it by a revert: the claims they left
        //   here are held (and a reverted one's domain on its source stays off) until this host's agent reports them gone;
        // - waiting: servers back on it by a revert that waits for the other host: what is reported of them is kept, and they wait.
        var moves = await c.RowsAsync($"""
            SELECT server_id, id, status, source_host, dest_host, source_vm_state FROM server_migrations
            WHERE (source_host = @host OR dest_host = @host) AND status IN ({PlacementStore.OpenMigrations})
            """, new { host }, r => (Server: r.GetString(0), Id: r.GetString(1), Status: r.GetString(2), Source: r.GetString(3), Dest: r.GetString(4),
                Vm: r.NullableString(5)), tx);
        var between = moves.Where(m => m.Source != m.Dest).ToList();
        var leaving = between.Where(m => m.Source == host && m.Status is "migrating" or "finished").ToDictionary(m => m.Server, StringComparer.Ordinal);
        var evacuated = moves.Where(m => (m.Source == host && m.Status == "evacuating") || (m.Dest == host && m.Source != host && m.Status == "reverting"))
            .Select(m => m.Server).ToHashSet(StringComparer.Ordinal);
        var waiting = between.Where(m => m.Source == host && m.Status == "reverting").Select(m => m.Server).ToHashSet(StringComparer.Ordinal);
        var stillThere = report.Leaving ?? new HashSet<string>(StringComparer.Ordinal);
        var cleared = evacuated.Where(id => !report.VmStates.ContainsKey(id) && !stillThere.Contains(id)).Order(StringComparer.Ordinal).ToList();
        if (evacuated.Count > 0)
            report = report with { VmStates = report.VmStates.Where(kv => !evacuated.Contains(kv.Key)).ToDictionary(StringComparer.Ordinal) };
        if (leaving.Count > 0)
        {
            foreach (var (id, vm) in report.VmStates.Where(kv => leaving.ContainsKey(kv.Key) && leaving[kv.Key].Vm != kv.Value))
                await c.ExecuteAsync("UPDATE server_migrations SET source_vm_state = @vm, updated_at = @now WHERE id = @m", new { vm, now = Now, m = leaving[id].Id }, tx);
            report = report with { VmStates = report.VmStates.Where(kv => !leaving.ContainsKey(kv.Key)).ToDictionary(StringComparer.Ordinal) };
        }
        // What the agent names that this host does not hold: another host's (refused, all of the report with it), or gone
        // meanwhile — deleted, or failed to ERROR between the agent's read and its report (passed over: the agent is not wrong).
        var unknownServers = report.VmStates.Keys.Where(id => !servers.ContainsKey(id)).ToList();
        var unknownPorts = report.PortStatuses.Keys.Where(id => !ports.ContainsKey(id)).ToList();
        if (unknownServers.Count > 0 || unknownPorts.Count > 0)
        {
            var (serverIn, serverArgs) = Resources.InList.Of(unknownServers);
            serverArgs.Add("host", host);
            var foreign = (await c.QueryAsync<string>($"""
                SELECT 'server ' || id FROM servers WHERE id IN {serverIn} AND host IS NOT NULL AND host <> @host AND status IN ({ServerStatus.HoldingList})
                """, serverArgs, tx)).ToList();
            var (portIn, portArgs) = Resources.InList.Of(unknownPorts);
            portArgs.Add("host", host);
            foreign.AddRange(await c.QueryAsync<string>($"""
                SELECT 'port ' || p.id FROM ports p JOIN servers s ON s.id = p.server_id
                WHERE p.id IN {portIn} AND s.host IS NOT NULL AND s.host <> @host AND s.status IN ({ServerStatus.HoldingList})
                """, portArgs, tx));
            if (foreign.Count > 0)
                throw new ForeignResourceException($"not on {host}: {string.Join(", ", foreign.Order(StringComparer.Ordinal))}");
            report = report with
            {
                VmStates = report.VmStates.Where(kv => servers.ContainsKey(kv.Key)).ToDictionary(StringComparer.Ordinal),
                PortStatuses = report.PortStatuses.Where(kv => ports.ContainsKey(kv.Key)).ToDictionary(StringComparer.Ordinal),
            };
        }

        var now = Now;
        // The heartbeat first: it locks the row, so a sweep that read the old heartbeat re-reads it
        // (PostgreSQL) or waits for this transaction (SQLite) and leaves the host up.
        await c.ExecuteAsync("UPDATE hosts SET heartbeat_at = @now, applied_revision = @applied WHERE name = @host",
            new { now, applied = report.AppliedRevision, host }, tx);
        // Usually matches nothing: a steady host's heartbeat leaves its generation alone.
        var backUp = await c.ExecuteAsync("UPDATE hosts SET agent_down_at = NULL, generation = generation + 1 WHERE name = @host AND agent_down_at IS NOT NULL",
            new { host }, tx) > 0;
        foreach (var (id, status) in report.PortStatuses)
        {
            if (ports[id].Status != status)
                await c.ExecuteAsync("UPDATE ports SET status = @status WHERE id = @id", new { status, id }, tx);
            ports[id] = ports[id] with { Status = status };
        }
        var transitions = new List<ServerTransition>();
        var touched = report.VmStates.Keys.Concat(report.PortStatuses.Keys.Select(p => ports[p].Server)).Distinct(StringComparer.Ordinal);
        foreach (var id in touched)
        {
            var s = servers[id];
            var vm = report.VmStates.TryGetValue(id, out var reported) ? reported : s.Vm;
            // A disk the agent does not speak of is the one it made (agents before rebuilds made one per server, at version 0).
            var diskCurrent = (report.DiskVersions?.GetValueOrDefault(id) ?? 0) == s.Version;
            var step = ServerLifecycle.Next(new LifecycleState(s.Status, s.Task, s.Power, vm,
                ports.Values.Where(p => p.Server == id).Select(p => p.Status).ToList(), s.After, diskCurrent));
            if (waiting.Contains(id))
                step = new LifecycleStep(s.Status, s.Task, s.Power, false); // a revert waits for the other host to take the server down
            if (step.Status == s.Status && step.TaskState == s.Task && step.PowerState == s.Power && vm == s.Vm)
                continue; // nothing new: most reports of a steady host
            // Conditional on the status read: a timeout that moved it to ERROR meanwhile wins.
            await ServerActionStore.MoveAsync(c, tx, id, s.Status, step, vm, now);
            if (step.Status != s.Status || step.TaskState != s.Task || step.PowerState != s.Power)
            {
                transitions.Add(new ServerTransition(id, s.Status, s.Task, step));
                await ServerActionStore.OnTransitionAsync(c, tx, id, s.Project, s.Status, s.Task, step, now);
                if (step.Status == ServerStatus.VerifyResize && s.Status != ServerStatus.VerifyResize)
                    await ServerMoveStore.MarkFinishedAsync(c, tx, id, now);
            }
        }
        var moved = transitions.Any(t => t.To.DesiredChanged);
        if (moved)
            await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @host", new { host }, tx);
        await tx.CommitAsync();
        return (transitions, moved, backUp, cleared);
    }

    /// <summary>
    /// Marks the hosts whose agent reported before and not since <paramref name="silentSince"/> down,
    /// moving their generations (once: a host marked already is not marked again, so several server
    /// processes sweeping at once record each fall once). Answers the hosts marked now.
    /// </summary>
    public async Task<IReadOnlyList<string>> MarkSilentAgentsDownAsync(DateTimeOffset silentSince)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("""
            UPDATE hosts SET agent_down_at = @now, generation = generation + 1
            WHERE agent_down_at IS NULL AND heartbeat_at IS NOT NULL AND heartbeat_at < @silentSince
            RETURNING name
            """, new { now = Now, silentSince = silentSince.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) })).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Servers still in BUILD past their deadline, with what held them up.</summary>
    public async Task<IReadOnlyList<OverdueServer>> OverdueAsync()
    {
        await using var c = await factory.OpenAsync();
        var servers = await c.RowsAsync("""
            SELECT id, host, name, task_state, vm_state FROM servers WHERE status = 'BUILD' AND build_deadline IS NOT NULL AND build_deadline < @now ORDER BY build_deadline
            """, new { now = Now }, r => (Id: r.GetString(0), Host: r.GetString(1), Name: r.GetString(2), Task: r.NullableString(3), Vm: r.NullableString(4)));
        var overdue = new List<OverdueServer>();
        foreach (var s in servers)
        {
            var ports = await c.RowsAsync("SELECT name, status FROM ports WHERE server_id = @id ORDER BY name", new { id = s.Id }, r => (r.GetString(0), r.GetString(1)));
            overdue.Add(new OverdueServer(s.Id, s.Host, s.Name, s.Task, s.Vm, ports));
        }
        return overdue;
    }

    /// <summary>Hosts (one, when named) and their agents: when they last reported, whether they are marked down.</summary>
    public async Task<IReadOnlyDictionary<string, AgentStatus>> AgentsAsync(string? host = null)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT name, revision, applied_revision, heartbeat_at, agent_down_at, enabled FROM hosts WHERE @host IS NULL OR name = @host",
            new { host }, r => (Name: r.GetString(0), Status: new AgentStatus(r.Long(1), r.Long(2), r.NullableString(3), r.NullableString(4), r.GetBoolean(5)))))
            .ToDictionary(h => h.Name, h => h.Status, StringComparer.Ordinal);
    }
}
