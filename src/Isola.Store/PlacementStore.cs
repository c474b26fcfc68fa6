using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Store.Documents;

namespace Isola.Store;

/// <summary>A host as stored: its inventory and the generation its claims are at.</summary>
/// <param name="Stamp">When its inventory was registered (<c>hosts.updated_at</c>): a fleet holding an older one reads it again.</param>
public sealed record StoredHost(string Name, string? Zone, IReadOnlyList<string> Aggregates, HostTopology Inventory, long Generation, bool Enabled,
    string? DisabledReason = null, string Stamp = "");

/// <summary>Why a commit did not happen.</summary>
public enum CommitOutcome
{
    Committed,
    /// <summary>Another commit or release changed the host since the plan was made: reload and plan again.</summary>
    StaleHost,
    /// <summary>A resource of the plan is held by another server (only possible from a stale view).</summary>
    ResourceTaken,
    /// <summary>The project has a server of that name already.</summary>
    NameTaken,
    /// <summary>A write of the commit threw; the exception says why.</summary>
    Failed,
}

/// <summary>
/// Hosts, servers and their claims in SQLite or PostgreSQL. A commit writes the server, its
/// placement and one claim row per pCPU, VF and PF in one transaction, and moves the host's
/// generation from the one the plan was made on to the next — so of two processes planning on the
/// same host state, one commits and the other learns its view is stale. Nothing is written unless
/// everything is: a crash before the commit leaves no row.
/// </summary>
public sealed class PlacementStore(StoreConnectionFactory factory, TimeProvider time)
{
    public StoreConnectionFactory Factory { get; } = factory;

    /// <summary>Test seam: runs after every write of a commit and before the commit itself (a crash there must leave nothing).</summary>
    internal Func<Task>? BeforeCommit { get; set; }

    /// <summary>Test seam: runs after the writes of each server's commit (its host row locked), with the host's name.</summary>
    internal Func<string, Task>? AfterCommitWrites { get; set; }

    /// <summary>How long a server may stay in BUILD before it goes to ERROR and gives back what it holds.</summary>
    public TimeSpan BuildTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public Task MigrateAsync(CancellationToken ct = default) => Migrator.MigrateAsync(Factory, time, ct);

    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>
    /// Registers a host or replaces its inventory — if the new inventory still has everything the
    /// servers on the host hold (<see cref="HeldResources.Lacking"/>, with the fleets' accounting
    /// <paramref name="options"/>); otherwise nothing is stored and the answer names what they hold
    /// that it lacks. The check and the write are one transaction that holds the host row, so no
    /// commit lands on the host between them. A registration moves the host's generation: every
    /// server process reads the host again, and its new inventory with it (its claims stay).
    /// </summary>
    public async Task<IReadOnlyList<HeldConflict>> UpsertHostAsync(HostTopology inventory, string? zone = null, IReadOnlyList<string>? aggregates = null,
        CancellationToken ct = default, string? tunnelIp = null, SchedulingOptions? options = null)
    {
        await using var connection = await Factory.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = new
        {
            name = inventory.Hostname,
            zone,
            aggregates = StoredDocuments.Write(aggregates ?? []),
            now = Now,
            tunnelIp,
        };
        // The host row first: from here it is locked (PostgreSQL; SQLite holds the write lock), and a commit's
        // compare-and-swap on the generation waits for this transaction and then fails on the moved generation.
        // A changed tunnel endpoint reaches the peers: the host endpoint moves their revisions (PeerRevisions.TouchHostPeersAsync).
        await connection.ExecuteAsync("""
            INSERT INTO hosts (name, zone, aggregates, generation, enabled, updated_at, tunnel_ip)
            VALUES (@name, @zone, @aggregates, 0, TRUE, @now, @tunnelIp)
            ON CONFLICT (name) DO UPDATE SET zone = excluded.zone, aggregates = excluded.aggregates, updated_at = excluded.updated_at,
                tunnel_ip = excluded.tunnel_ip, generation = hosts.generation + 1
            """, row, tx);
        var held = await connection.QueryAsync<(string Id, string Name, string Placement)>(
            $"SELECT id, name, placement FROM servers WHERE host = @name AND status IN ({ServerStatus.HoldingList}) ORDER BY created_at, id", row, tx);
        var placements = new List<(string, Placement)>();
        var unreadable = new List<HeldConflict>();
        foreach (var (id, name, json) in held)
        {
            if (StoredDocuments.TryRead<Placement>(json, out var placement, out var problem))
                placements.Add((id, placement));
            else
                unreadable.Add(new HeldConflict([id], "placement", id, "host", $"server {name} ({id}) holds resources here, but its stored placement cannot be read ({problem})"));
        }
        var conflicts = unreadable.Concat(HeldResources.Lacking(inventory, placements, options ?? SchedulingOptions.Default)).ToList();
        if (conflicts.Count > 0)
        {
            await tx.RollbackAsync(ct);
            return conflicts;
        }
        await connection.ExecuteAsync("""
            INSERT INTO host_inventories (host, inventory) VALUES (@name, @inventory)
            ON CONFLICT (host) DO UPDATE SET inventory = excluded.inventory
            """, new { name = inventory.Hostname, inventory = InventoryDocument.Of(inventory).ToJson() }, tx);
        await tx.CommitAsync(ct);
        return [];
    }

    /// <summary>Every host whose inventory can be used (see <see cref="HostRowsAsync"/> for the others).</summary>
    public async Task<IReadOnlyList<StoredHost>> HostsAsync(CancellationToken ct = default) => (await HostRowsAsync(null, ct)).Hosts;

    /// <summary>The host, when it is registered and its inventory can be used.</summary>
    public async Task<StoredHost?> HostAsync(string name, CancellationToken ct = default) => (await HostRowsAsync(name, ct)).Hosts.FirstOrDefault();

    /// <summary>
    /// Every host row (one, when named), usable or not: a row whose inventory does not parse or
    /// breaks the inventory rules is answered as <see cref="UnreadableHost"/>, never thrown.
    /// </summary>
    public async Task<HostRows> HostRowsAsync(string? name = null, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return await HostRowsAsync(connection, null, name);
    }

    private static async Task<HostRows> HostRowsAsync(DbConnection connection, DbTransaction? tx, string? name)
    {
        var rows = await connection.QueryAsync<(string Name, string? Zone, string? Aggregates, string? Inventory, long Generation, bool Enabled, string? Reason,
            string Stamp)>(
            """
            SELECT h.name, h.zone, h.aggregates, i.inventory, h.generation, h.enabled, h.disabled_reason, h.updated_at
            FROM hosts h LEFT JOIN host_inventories i ON i.host = h.name
            WHERE @name IS NULL OR h.name = @name ORDER BY h.name
            """, new { name }, tx);
        return HostRows.Of(rows.Select(r => new HostRows.Row(r.Name, r.Zone, r.Aggregates, r.Inventory, r.Generation, r.Enabled, r.Reason, r.Stamp)));
    }

    /// <summary>Takes a host out of scheduling or back in; moves its generation so every process re-reads it. False for an unknown host.</summary>
    public async Task<bool> SetEnabledAsync(string host, bool enabled, string? reason, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return await connection.ExecuteAsync(
            "UPDATE hosts SET enabled = @enabled, disabled_reason = @reason, generation = generation + 1, updated_at = @now WHERE name = @host",
            new { host, enabled, reason = enabled ? null : reason, now = Now }) > 0;
    }

    /// <summary>Every server group's id and policy (what the scheduler needs of them).</summary>
    public async Task<IReadOnlyList<(string Id, GroupPolicy Policy)>> GroupsAsync(CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return (await connection.QueryAsync<(string Id, string Policy)>("SELECT id, policy FROM server_groups"))
            .Select(g => (g.Id, GroupPolicies.Parse(g.Policy))).ToList();
    }

    /// <summary>Every host's generation: what changed since a process last looked.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GenerationsAsync(CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return (await connection.QueryAsync<(string Name, long Generation)>("SELECT name, generation FROM hosts"))
            .ToDictionary(r => r.Name, r => r.Generation, StringComparer.Ordinal);
    }

    /// <summary>The committed placements on a host, and the generation they add up to.</summary>
    public async Task<(long Generation, IReadOnlyList<Placement> Placements)> HostStateAsync(string host, CancellationToken ct = default)
    {
        var snapshot = await HostSnapshotAsync(host, ct: ct);
        return (snapshot.Generation, snapshot.Placements);
    }

    /// <summary>
    /// A host's generation, whether it takes new servers (enabled by its operator; its agent not
    /// marked down), its committed placements and its inventory's stamp, read together; and, when
    /// that stamp is not <paramref name="knownStamp"/>, its host row with the inventory. A placement
    /// that cannot be read is left out and named in <see cref="HostSnapshot.Problem"/> (never thrown).
    /// </summary>
    /// <param name="knownStamp">The stamp of the inventory the caller holds; null: it needs none.</param>
    public async Task<HostSnapshot> HostSnapshotAsync(string host, string? knownStamp = null, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var head = await connection.QuerySingleOrDefaultAsync<(long Generation, bool Enabled, bool AgentDown, string? Stamp)>(
            "SELECT generation, enabled, agent_down_at IS NOT NULL, updated_at FROM hosts WHERE name = @host", new { host }, tx);
        // The servers on the host, and the placements servers resized or migrated away still hold here until confirmed or reverted.
        var rows = (await connection.QueryAsync<(string Id, string Placement)>(
            $"SELECT id, placement FROM servers WHERE host = @host AND status IN ({ServerStatus.HoldingList}) ORDER BY created_at, id", new { host }, tx)).ToList();
        rows.AddRange(await connection.QueryAsync<(string Id, string Placement)>(
            $"SELECT server_id, source_placement FROM server_migrations WHERE source_host = @host AND status IN ({HeldAtSource}) ORDER BY created_at, server_id",
            new { host }, tx));
        // And the placements a revert between hosts gave back but whose host's agent has not yet taken the server down.
        rows.AddRange(await connection.QueryAsync<(string Id, string Placement)>(
            "SELECT server_id, dest_placement FROM server_migrations WHERE dest_host = @host AND status = 'reverting' ORDER BY created_at, server_id",
            new { host }, tx));
        var stamp = head.Stamp ?? "";
        var inventory = knownStamp is not null && knownStamp != stamp ? await HostRowsAsync(connection, tx, host) : null;
        await tx.CommitAsync(ct);
        var placements = new List<Placement>();
        string? problem = null;
        foreach (var (id, json) in rows)
        {
            if (StoredDocuments.TryRead<Placement>(json, out var placement, out var why))
                placements.Add(placement);
            else
                problem ??= $"the stored placement of server {id} cannot be read ({why})";
        }
        return new HostSnapshot(host, 0, head.Generation, placements, head.Enabled, head.AgentDown, stamp, inventory, problem);
    }

    /// <summary>Commits a server's placement if the host is still at <paramref name="expectedGeneration"/>; all or nothing.</summary>
    /// <param name="within">More writes that belong to the same commit (binding the server's ports).</param>
    public async Task<(CommitOutcome Outcome, long Generation)> CommitAsync(string serverId, string project, Placement placement, long expectedGeneration,
        WithinCommit? within = null, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var outcome = await CommitInAsync(connection, tx, serverId, project, StoredDocument<Placement>.Of(placement), expectedGeneration, null, within);
        if (outcome != CommitOutcome.Committed)
        {
            await tx.RollbackAsync(ct);
            return (outcome, outcome == CommitOutcome.StaleHost ? await GenerationAsync(placement.Host, ct) : expectedGeneration);
        }
        if (BeforeCommit is not null)
            await BeforeCommit();
        await tx.CommitAsync(ct);
        return (CommitOutcome.Committed, expectedGeneration + 1);
    }

    /// <summary>
    /// The writes of one commit, inside a transaction the caller owns (and rolls back, at least to a
    /// savepoint, unless this answers Committed): the host's generation moved by compare-and-swap,
    /// the server row, one claim row per pCPU, VF and PF, and <paramref name="within"/>.
    /// </summary>
    public async Task<CommitOutcome> CommitInAsync(DbConnection connection, DbTransaction tx, string serverId, string project,
        StoredDocument<Placement> stored, long expectedGeneration, StoredDocument<ServerSpec>? spec, WithinCommit? within)
    {
        var placement = stored.Value;
        if (!await BumpAsync(connection, tx, placement.Host, expectedGeneration))
            return CommitOutcome.StaleHost;
        try
        {
            await connection.ExecuteAsync("""
                INSERT INTO servers (id, project_id, name, status, task_state, power_state, host, placement, spec, group_id, build_deadline, created_at, updated_at)
                VALUES (@id, @project, @name, 'BUILD', 'scheduled', 'paused', @host, @placement, @spec, @group, @deadline, @now, @now)
                """, new
            {
                id = serverId, project, name = placement.Server, host = placement.Host, placement = stored.Json, spec = spec?.Json,
                group = placement.Group, deadline = (time.GetUtcNow() + BuildTimeout).ToString("O", CultureInfo.InvariantCulture), now = Now,
            }, tx);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return CommitOutcome.NameTaken;
        }
        var claimed = await ClaimAndWithinAsync(connection, tx, serverId, placement, within);
        if (claimed == CommitOutcome.Committed && AfterCommitWrites is not null)
            await AfterCommitWrites(placement.Host);
        return claimed;
    }

    /// <summary>The statuses of a migration whose source placement still holds its claims, for SQL IN (...).</summary>
    public const string OpenMigrations = "'migrating', 'finished', 'evacuating', 'reverting'";

    /// <summary>The statuses of a migration whose source placement holds claims on its source host (a reverting one's are the server's own again).</summary>
    public const string HeldAtSource = "'migrating', 'finished', 'evacuating'";

    /// <summary>
    /// The writes of a claim for a server that exists (a resize or migration's new placement, beside the one it
    /// holds), inside the caller's transaction: the host's generation moved by compare-and-swap, one claim row per
    /// pCPU, VF and PF, and <paramref name="within"/> (which moves the server to it).
    /// </summary>
    public async Task<CommitOutcome> ClaimInAsync(DbConnection connection, DbTransaction tx, string serverId, Placement placement, long expectedGeneration,
        WithinCommit? within)
    {
        return await BumpAsync(connection, tx, placement.Host, expectedGeneration)
            ? await ClaimAndWithinAsync(connection, tx, serverId, placement, within)
            : CommitOutcome.StaleHost;
    }

    /// <summary>Moves a host's generation (and revision) by compare-and-swap: false when it is not at <paramref name="expected"/>.</summary>
    private static async Task<bool> BumpAsync(DbConnection connection, DbTransaction tx, string host, long expected) =>
        await connection.ExecuteAsync("UPDATE hosts SET generation = generation + 1, revision = revision + 1 WHERE name = @host AND generation = @expected",
            new { host, expected }, tx) > 0;

    /// <summary>A placement's claim rows (ResourceTaken when one is held already), then the writes that go with them.</summary>
    private static async Task<CommitOutcome> ClaimAndWithinAsync(DbConnection connection, DbTransaction tx, string serverId, Placement placement, WithinCommit? within)
    {
        try
        {
            await InsertClaimsAsync(connection, tx, serverId, placement);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return CommitOutcome.ResourceTaken;
        }
        if (within is not null)
            await within(connection, tx);
        return CommitOutcome.Committed;
    }

    /// <summary>
    /// Gives back one placement of a server that keeps another (a confirmed resize's old one, a reverted one's new one) in one
    /// transaction with <paramref name="within"/>: its claim rows go and its host's generation moves. Answers the generation after.
    /// </summary>
    public async Task<long> ReleasePlacementAsync(string serverId, Placement placement, WithinCommit within)
    {
        await using var connection = await Factory.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await within(connection, tx);
        foreach (var (kind, item) in Claims(placement))
        {
            await connection.ExecuteAsync("DELETE FROM claims WHERE host = @host AND kind = @kind AND item = @item AND server_id = @serverId",
                new { host = placement.Host, kind, item, serverId }, tx);
        }
        var generation = await connection.ExecuteScalarAsync<long>(
            "UPDATE hosts SET generation = generation + 1, revision = revision + 1 WHERE name = @host RETURNING generation", new { host = placement.Host }, tx);
        await tx.CommitAsync();
        return generation;
    }

    private static async Task InsertClaimsAsync(DbConnection connection, DbTransaction tx, string serverId, Placement placement)
    {
        // One statement for all of the server's claim rows.
        var claims = Claims(placement).ToList();
        if (claims.Count == 0)
            return;
        var values = new DynamicParameters();
        values.Add("host", placement.Host);
        values.Add("server", serverId);
        var rows = new System.Text.StringBuilder("INSERT INTO claims (host, kind, item, server_id) VALUES ");
        for (var i = 0; i < claims.Count; i++)
        {
            rows.Append(CultureInfo.InvariantCulture, $"{(i == 0 ? "" : ", ")}(@host, @k{i}, @i{i}, @server)");
            values.Add($"k{i}", claims[i].Kind);
            values.Add($"i{i}", claims[i].Item);
        }
        await connection.ExecuteAsync(rows.ToString(), values, tx);
    }

    private async Task<long> GenerationAsync(string host, CancellationToken ct)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>("SELECT generation FROM hosts WHERE name = @host", new { host });
    }

    /// <summary>Removes a server and everything it claimed; false when it was gone already (release is idempotent).</summary>
    public async Task<bool> ReleaseAsync(string serverId, WithinCommit? within = null, CancellationToken ct = default) =>
        (await ReleaseServerAsync(serverId, within, null, ct)).Released;

    /// <summary>
    /// Removes a server's claims in one transaction, and the server with them — or, given a
    /// <paramref name="fault"/>, keeps it in ERROR with that fault (only if it is still in BUILD: a
    /// server that made it to ACTIVE meanwhile is left alone). Answers what it held and the host's
    /// generation after the release (moved by one when the server held anything there).
    /// </summary>
    /// <remarks>
    /// A server in the middle of a resize or migration holds a second placement (on the host it left, or beside the new one):
    /// that goes too, its host's generation moves, and the answer has no placement but names that host (<c>Source</c>): the caller reads both again.
    /// </remarks>
    public async Task<(bool Released, string? Host, Placement? Placement, long Generation, string? Source)> ReleaseServerAsync(string serverId,
        WithinCommit? within = null, string? fault = null, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<(string? Host, string? Placement, string Status)?>(
            "SELECT host, placement, status FROM servers WHERE id = @serverId", new { serverId }, tx);
        if (fault is not null)
        {
            var failed = await connection.ExecuteAsync("""
                UPDATE servers SET status = 'ERROR', task_state = NULL, fault = @fault, build_deadline = NULL, updated_at = @now
                WHERE id = @serverId AND status = 'BUILD'
                """, new { serverId, fault, now = Now }, tx);
            if (failed == 0)
                return (false, null, null, 0, null);
        }
        if (within is not null)
            await within(connection, tx);
        // The other host an open move holds the server on: the one it left, or (a revert waiting) the one it went to.
        var source = await connection.QuerySingleOrDefaultAsync<string?>(
            $"SELECT CASE WHEN status = 'reverting' THEN dest_host ELSE source_host END FROM server_migrations WHERE server_id = @serverId AND status IN ({OpenMigrations})",
            new { serverId }, tx);
        var deleted = await connection.ExecuteAsync("DELETE FROM claims WHERE server_id = @serverId", new { serverId }, tx);
        if (fault is null)
        {
            await connection.ExecuteAsync("DELETE FROM server_migrations WHERE server_id = @serverId", new { serverId }, tx);
            deleted += await connection.ExecuteAsync("DELETE FROM servers WHERE id = @serverId", new { serverId }, tx);
        }
        if (source is not null && source != row?.Host)
            await connection.ExecuteAsync("UPDATE hosts SET generation = generation + 1, revision = revision + 1 WHERE name = @source", new { source }, tx);
        // A server that holds resources (not one in ERROR, whose claims went already) changes its host.
        var holds = row is { Host: not null } r && ServerStatus.HoldsResources(r.Status);
        long generation = 0;
        if (holds)
            generation = await connection.ExecuteScalarAsync<long>(
                "UPDATE hosts SET generation = generation + 1, revision = revision + 1 WHERE name = @host RETURNING generation", new { host = row!.Value.Host }, tx);
        await tx.CommitAsync(ct);
        return (deleted > 0 || fault is not null, holds ? row!.Value.Host : null,
            holds && source is null && row!.Value.Placement is { } json ? StoredDocuments.Read<Placement>(json) : null, generation, source);
    }

    /// <summary>Every claim row (of one host, when named): (host, kind, item, server).</summary>
    public async Task<IReadOnlyList<(string Host, string Kind, string Item, string Server)>> ClaimsAsync(string? host = null, CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return (await connection.QueryAsync<(string, string, string, string)>(
            "SELECT host, kind, item, server_id FROM claims WHERE @host IS NULL OR host = @host ORDER BY host, kind, item", new { host })).ToList();
    }

    public async Task<int> ServerCountAsync(CancellationToken ct = default)
    {
        await using var connection = await Factory.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM servers");
    }

    /// <summary>The discrete resources of a placement, as claim rows.</summary>
    public static IEnumerable<(string Kind, string Item)> Claims(Placement p) =>
        p.AllPinned.Select(cpu => ("pcpu", cpu.ToString(CultureInfo.InvariantCulture)))
            .Concat(p.Vfs.Select(v => ("vf", v.Vf.ToString())))
            .Concat(p.Pfs.Select(x => ("pf", x.Pf.ToString())));
}
