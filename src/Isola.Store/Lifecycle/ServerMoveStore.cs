using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;
using Isola.Store.Resources;

namespace Isola.Store.Lifecycle;

/// <summary>A resize or cold migration as Nova's os-migrations shows it.</summary>
/// <param name="Kind"><see cref="ServerMoveStore.Resize"/> or <see cref="ServerMoveStore.Migration"/>.</param>
/// <param name="SourceStatus">ACTIVE or SHUTOFF: what the server was, and a revert gives back.</param>
/// <param name="SourceVmState">What the source host's agent last said of the domain there.</param>
/// <param name="DiskSha256">The SHA-256 of the disk the source sent; null until it did.</param>
public sealed record MigrationRecord(string Id, string ServerId, string Kind, string Status, string SourceHost, string DestHost, string SourceStatus,
    bool DiskSent, string? SourceVmState, string CreatedAt, string UpdatedAt, string? DiskSha256 = null);

/// <summary>An open migration with what the server left: the placement whose claims it still holds, the spec and plan version it had.</summary>
/// <param name="DestPlacement">The placement it moved to (null in rows older than reverts between hosts).</param>
public sealed record OpenMigration(MigrationRecord Record, StoredDocument<Placement> SourcePlacement, StoredDocument<ServerSpec>? SourceSpec, int SourcePlanVersion,
    StoredDocument<Placement>? DestPlacement = null);

/// <summary>A move the server's state does not allow (any more): the message says why (a 409).</summary>
public sealed class MoveRefusedException(string message) : Exception(message);

/// <summary>What a resize or migration asks, and — once its writes ran — where the server stands.</summary>
/// <param name="WasStatus">The status the caller read (ACTIVE or SHUTOFF): the writes refuse when the server moved on meanwhile.</param>
public sealed class MoveBeginning(string serverId, string kind, string wasStatus, string requestId, string? tokenId, StoredDocument<ServerSpec> newSpec,
    TimeSpan shutdownTimeout)
{
    public string ServerId { get; } = serverId;
    public string Kind { get; } = kind;
    public string WasStatus { get; } = wasStatus;
    public string RequestId { get; } = requestId;
    public string? TokenId { get; } = tokenId;
    public StoredDocument<ServerSpec> NewSpec { get; } = newSpec;
    public TimeSpan ShutdownTimeout { get; } = shutdownTimeout;

    /// <summary>Set by the writes: the migration, its action, and the server's first step.</summary>
    public MigrationRecord? Migration { get; internal set; }
    public ServerActionRecord? Action { get; internal set; }
    public LifecycleStep? Step { get; internal set; }
}

/// <summary>
/// Resizes and cold migrations in the store (<c>server_migrations</c>). A move begins inside the commit of its new
/// placement's claims (<see cref="BeginWrites"/>): the server goes to the new host and placement at once, with its new
/// spec and plan version, while the migration keeps the old placement — whose claims stay — and the old spec. Between
/// hosts, the source host's agent shuts the domain down and sends its disk (<see cref="DiskSentAsync"/>), and only then
/// does the destination hold the server; within one host, the domain shuts down and is defined again from the new plan.
/// Confirm gives back the old placement; revert gives back the new one and puts the server on the old exactly.
/// </summary>
public sealed class ServerMoveStore(StoreConnectionFactory factory, TimeProvider time)
{
    public const string Resize = "resize";
    public const string Migration = "migration";
    public const string Evacuation = "evacuation";
    public const string Evacuating = "evacuating";
    public const string Reverting = "reverting";
    public const string Done = "done";

    /// <summary>The statuses a server may be evacuated from: any that holds a placement and is not building or moving (its agent being down, a task may be stuck).</summary>
    public static bool MayEvacuate(string status) =>
        status is ServerStatus.Active or ServerStatus.Shutoff or ServerStatus.Paused or ServerStatus.Reboot or ServerStatus.HardReboot or ServerStatus.Rebuild;

    public const string Migrating = "migrating";
    public const string Finished = "finished";
    public const string Confirmed = "confirmed";
    public const string Reverted = "reverted";

    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>
    /// The writes that begin a move, run inside the commit of its new placement's claims (which moved the destination's
    /// generation and revision): the server moved to the placement, the migration and the action recorded, the source's
    /// revision moved. Throws <see cref="MoveRefusedException"/> — nothing is committed — when the server is no longer as read.
    /// </summary>
    public WithinCommit BeginWrites(MoveBeginning m, Placement placement) => async (c, tx) =>
    {
        var rows = await c.RowsAsync("""
            SELECT status, task_state, host, placement, spec, plan_version, vm_state, project_id FROM servers WHERE id = @id
            """, new { id = m.ServerId }, r => (Status: r.GetString(0), Task: r.NullableString(1), Host: r.NullableString(2), Placement: r.NullableString(3),
                Spec: r.NullableString(4), Version: (int)r.Long(5), Vm: r.NullableString(6), Project: r.GetString(7)), tx);
        if (rows.Count == 0 || rows[0] is not { Host: { } source, Placement: { } old } row)
            throw new MoveRefusedException("the server holds nothing on a host");
        if (row.Status != m.WasStatus || row.Task is not null)
            throw new MoveRefusedException("another action on the server began meanwhile");
        await RefuseOpenAsync(c, tx, m.ServerId);
        var now = Now;
        var sameHost = placement.Host == source;
        var after = row.Status == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running;
        // Within one host the domain's state goes on being reported for the server; between hosts the destination has none yet.
        var vm = sameHost ? row.Vm : null;
        var step = ServerLifecycle.Next(new LifecycleState(ServerStatus.Resize, TaskState.ResizeMigrating, PowerState.Shutoff, vm, [], after));
        var deadline = row.Status == ServerStatus.Active ? (time.GetUtcNow() + m.ShutdownTimeout).ToString("O", CultureInfo.InvariantCulture) : null;
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET host = @host, placement = @placement, spec = @spec, plan_version = plan_version + 1, status = @Status, task_state = @TaskState,
                power_state = @PowerState, power_after = @after, shutdown_deadline = @deadline, vm_state = @vm, updated_at = @now
            WHERE id = @id AND status = @was AND task_state IS NULL
            """, new
        {
            host = placement.Host, placement = StoredDocuments.Write(placement), spec = m.NewSpec.Json, step.Status, step.TaskState, step.PowerState,
            after = step.TaskState is null ? null : after, deadline, vm, now, id = m.ServerId, was = m.WasStatus,
        }, tx);
        if (moved == 0)
            throw new MoveRefusedException("another action on the server began meanwhile");
        await RebindAsync(c, tx, m.ServerId, m.NewSpec.Value, placement);
        var migration = new MigrationRecord("mig-" + Guid.NewGuid().ToString("D"), m.ServerId, m.Kind, Migrating, source, placement.Host, row.Status,
            false, row.Vm, now, now);
        await InsertAsync(c, tx, migration, old, placement, row.Spec, row.Version);
        var action = new ServerActionRecord(m.RequestId, m.ServerId, row.Project, m.Kind == Resize ? ServerActions.Resize : ServerActions.Migrate, m.TokenId,
            now, null, null, null);
        await ServerActionStore.RecordAsync(c, tx, action);
        if (!sameHost)
            await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source", new { source }, tx);
        // A SHUTOFF server resized within its host is at rest at once (its domain is defined again from the new plan before it next starts).
        await ArrivedAsync(c, tx, m.ServerId, row.Project, step, now);
        m.Migration = migration;
        m.Action = action;
        m.Step = step;
    };

    /// <summary>
    /// The writes of an evacuation, inside the commit of the new placement's claims: the server on the new host, rebuilt there
    /// from its image (REBUILD, a new disk version: nothing of the old disk can be had from a host whose agent is down), running
    /// again unless it was SHUTOFF; the placement it left kept — with its claims — until the old host's agent reports it gone.
    /// </summary>
    /// <param name="spec">The server's spec at the plan version it will be at (its disk made anew at that version).</param>
    public WithinCommit EvacuateWrites(MoveBeginning m, Placement placement, Func<int, StoredDocument<ServerSpec>> spec) => async (c, tx) =>
    {
        var rows = await c.RowsAsync("""
            SELECT status, host, placement, spec, plan_version, vm_state, project_id FROM servers WHERE id = @id
            """, new { id = m.ServerId }, r => (Status: r.GetString(0), Host: r.NullableString(1), Placement: r.NullableString(2), Spec: r.NullableString(3),
                Version: (int)r.Long(4), Vm: r.NullableString(5), Project: r.GetString(6)), tx);
        if (rows.Count == 0 || rows[0] is not { Host: { } source, Placement: { } old } row || row.Status != m.WasStatus)
            throw new MoveRefusedException("another action on the server began meanwhile");
        await RefuseOpenAsync(c, tx, m.ServerId);
        var now = Now;
        var version = row.Version + 1;
        var stopped = row.Status == ServerStatus.Shutoff;
        var step = new LifecycleStep(ServerStatus.Rebuild, stopped ? TaskState.Rebuilding : TaskState.RebuildSpawning,
            stopped ? PowerState.Shutoff : PowerState.Running, true);
        var newSpec = spec(version);
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET host = @host, placement = @placement, spec = @spec, plan_version = @version, status = @Status, task_state = @TaskState,
                power_state = @PowerState, power_after = @after, shutdown_deadline = NULL, vm_state = NULL, updated_at = @now
            WHERE id = @id AND status = @was
            """, new
        {
            host = placement.Host, placement = StoredDocuments.Write(placement), spec = newSpec.Json, version, step.Status, step.TaskState, step.PowerState,
            after = stopped ? PowerState.Shutoff : PowerState.Running, now, id = m.ServerId, was = m.WasStatus,
        }, tx);
        if (moved == 0)
            throw new MoveRefusedException("another action on the server began meanwhile");
        await RebindAsync(c, tx, m.ServerId, newSpec.Value, placement);
        // An action the dead agent never finished ends here.
        await ServerActionStore.FinishAsync(c, tx, m.ServerId, ServerActionStore.Error, $"the server was evacuated off {source}", now);
        var migration = new MigrationRecord("mig-" + Guid.NewGuid().ToString("D"), m.ServerId, Evacuation, Evacuating, source, placement.Host, row.Status,
            false, row.Vm, now, now);
        await InsertAsync(c, tx, migration, old, placement, row.Spec, row.Version);
        var action = new ServerActionRecord(m.RequestId, m.ServerId, row.Project, ServerActions.Evacuate, m.TokenId, now, null, null,
            $"rebuilt on {placement.Host} from its image: what its disk on {source} held is not carried over");
        await ServerActionStore.RecordAsync(c, tx, action);
        await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source", new { source }, tx);
        m.Migration = migration;
        m.Action = action;
        m.Step = step;
    };

    /// <summary>The writes that end an evacuation once the host it left reports the server gone (run in the release of the placement it left there).</summary>
    public WithinCommit ClearEvacuationWrites(string migrationId) => async (c, tx) =>
    {
        if (await c.ExecuteAsync("UPDATE server_migrations SET status = 'done', updated_at = @now WHERE id = @migrationId AND status = 'evacuating'",
                new { now = Now, migrationId }, tx) == 0)
            throw new MoveRefusedException("the evacuation was cleared already");
    };

    /// <summary>The server's open migration (migrating, finished or evacuating), if it has one.</summary>
    public async Task<OpenMigration?> OpenAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync($"""
            SELECT {Columns}, source_placement, source_spec, source_plan_version, dest_placement FROM server_migrations
            WHERE server_id = @serverId AND status IN ({PlacementStore.OpenMigrations})
            """, new { serverId }, r => new OpenMigration(Read(r), r.Document<Placement>(12), r.NullableDocument<ServerSpec>(13), (int)r.Long(14),
                r.NullableDocument<Placement>(15)))).FirstOrDefault();
    }

    /// <summary>Every migration of a server, oldest first (Nova's <c>GET /servers/{id}/migrations</c>, also the done ones).</summary>
    public async Task<IReadOnlyList<MigrationRecord>> ListAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync($"SELECT {Columns} FROM server_migrations WHERE server_id = @serverId ORDER BY created_at, id", new { serverId }, Read);
    }

    /// <summary>
    /// The source host's agent sent the server's disk: the migration says so, the server goes on (to the second half, or —
    /// a SHUTOFF server — to VERIFY_RESIZE), and both hosts' revisions move (the destination now holds the server). False when
    /// the server has no such migration from <paramref name="source"/> waiting for its disk.
    /// </summary>
    public async Task<(bool Taken, string? Destination)> DiskSentAsync(string serverId, string source, string sha256)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var now = Now;
        var rows = await c.RowsAsync("""
            SELECT m.id, m.dest_host, m.source_status, s.status, s.task_state, s.power_state, s.project_id FROM server_migrations m JOIN servers s ON s.id = m.server_id
            WHERE m.server_id = @serverId AND m.source_host = @source AND m.dest_host <> @source AND m.status = 'migrating' AND m.disk_sent = FALSE
            """, new { serverId, source }, r => (Id: r.GetString(0), Dest: r.GetString(1), Was: r.GetString(2), Status: r.GetString(3), Task: r.NullableString(4),
                Power: r.GetString(5), Project: r.GetString(6)), tx);
        if (rows.Count == 0)
            return (false, null);
        var m = rows[0];
        await c.ExecuteAsync("UPDATE server_migrations SET disk_sent = TRUE, disk_sha256 = @sha256, source_vm_state = 'shutoff', updated_at = @now WHERE id = @id",
            new { now, sha256, id = m.Id }, tx);
        if (m.Status == ServerStatus.Resize && m.Task == TaskState.ResizeMigrating)
        {
            // The domain is shut off on the source (its disk could be sent): the destination takes over from there — it makes
            // the disk from the one sent, defines the domain, and starts it unless the server was SHUTOFF. Never VERIFY_RESIZE
            // before the destination's report: a confirm must not find the disk only on its way.
            var step = new LifecycleStep(ServerStatus.Resize, TaskState.ResizeFinish, m.Was == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running, true);
            await ServerActionStore.MoveAsync(c, tx, serverId, m.Status, step, null, now);
        }
        await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source OR name = @dest", new { source, dest = m.Dest }, tx);
        await tx.CommitAsync();
        return (true, m.Dest);
    }

    /// <summary>
    /// The writes of a confirm, run in the release of the source placement's claims: the server from VERIFY_RESIZE to ACTIVE
    /// (or SHUTOFF, as its domain is), the migration confirmed, the action recorded done. Throws <see cref="MoveRefusedException"/> when the server is not in VERIFY_RESIZE.
    /// </summary>
    public WithinCommit ConfirmWrites(OpenMigration open, string requestId, string? tokenId) => async (c, tx) =>
    {
        var now = Now;
        var project = await ProjectAtAsync(c, tx, open.Record.ServerId, ServerActions.ConfirmResize);
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET status = CASE WHEN power_state = 'shutoff' THEN 'SHUTOFF' ELSE 'ACTIVE' END, task_state = NULL, power_after = NULL, updated_at = @now
            WHERE id = @id AND status = 'VERIFY_RESIZE' AND task_state IS NULL
            """, new { now, id = open.Record.ServerId }, tx);
        if (moved == 0)
            throw new MoveRefusedException("another action on the server began meanwhile");
        await CloseAsync(c, tx, open.Record.Id, Confirmed, now, open.Record.Status);
        await ServerActionStore.RecordAsync(c, tx, new ServerActionRecord(requestId, open.Record.ServerId, project, ServerActions.ConfirmResize, tokenId, now, now,
            ServerActionStore.Success, null));
    };

    /// <summary>
    /// A revert between hosts, in one transaction: the server back on its source host with the placement, spec and (a new) plan
    /// version it left, in REVERT_RESIZE with its domain there kept shut off; the migration <c>reverting</c>, which holds the claims
    /// of the placement it moved to until the destination's agent reports the server taken down
    /// (<see cref="FinishRevertWrites"/>) — only then does its domain on the source start: never two copies at once, and
    /// nothing new on the destination gets a pCPU or VF its old domain may still have. Both hosts' revisions move.
    /// </summary>
    public async Task<(ServerActionRecord Action, LifecycleStep Step)> RevertBetweenHostsAsync(OpenMigration open, string requestId, string? tokenId)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var now = Now;
        var r = open.Record;
        var project = await ProjectAtAsync(c, tx, r.ServerId, ServerActions.RevertResize);
        var vm = await c.ExecuteScalarAsync<string?>("SELECT source_vm_state FROM server_migrations WHERE id = @id", new { id = r.Id }, tx);
        var after = r.SourceStatus == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running;
        var step = new LifecycleStep(ServerStatus.RevertResize, TaskState.ResizeReverting, PowerState.Shutoff, true);
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET host = @host, placement = @placement, spec = @spec, plan_version = plan_version + 1, status = @Status, task_state = @TaskState,
                power_state = @PowerState, power_after = @after, shutdown_deadline = NULL, vm_state = @vm, updated_at = @now
            WHERE id = @id AND ((status = 'VERIFY_RESIZE' AND task_state IS NULL) OR status = 'RESIZE')
            """, new
        {
            host = r.SourceHost, placement = open.SourcePlacement.Json, spec = open.SourceSpec?.Json, step.Status, step.TaskState, step.PowerState, after, vm, now,
            id = r.ServerId,
        }, tx);
        if (moved == 0)
            throw new MoveRefusedException("another action on the server began meanwhile");
        if (open.SourceSpec is { } spec)
            await RebindAsync(c, tx, r.ServerId, spec.Value, open.SourcePlacement.Value);
        await CloseAsync(c, tx, r.Id, Reverting, now, r.Status);
        var action = new ServerActionRecord(requestId, r.ServerId, project, ServerActions.RevertResize, tokenId, now, null, null, null);
        await ServerActionStore.RecordAsync(c, tx, action);
        await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source OR name = @dest", new { source = r.SourceHost, dest = r.DestHost }, tx);
        await tx.CommitAsync();
        return (action, step);
    }

    /// <summary>
    /// The writes that finish a revert between hosts once the destination reports the server taken down (run in the release of
    /// the placement it had there): the migration reverted, and the server, on its source again, goes on — its domain there
    /// started (or left shut off, as it was). Answers the source host (its revision moved).
    /// </summary>
    public WithinCommit FinishRevertWrites(OpenMigration open) => async (c, tx) =>
    {
        var r = open.Record;
        var now = Now;
        await CloseAsync(c, tx, r.Id, Reverted, now, Reverting);
        var rows = await c.RowsAsync("SELECT status, task_state, power_state, vm_state, project_id FROM servers WHERE id = @id",
            new { id = r.ServerId }, x => (Status: x.GetString(0), Task: x.NullableString(1), Power: x.GetString(2), Vm: x.NullableString(3), Project: x.GetString(4)), tx);
        if (rows.Count == 0 || rows[0].Status != ServerStatus.RevertResize)
            return;
        var s = rows[0];
        var after = r.SourceStatus == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running;
        var step = ServerLifecycle.Next(new LifecycleState(s.Status, s.Task, s.Power, s.Vm, [], after));
        if (step.Status == s.Status && step.TaskState == s.Task && step.PowerState == s.Power)
            return;
        await ServerActionStore.MoveAsync(c, tx, r.ServerId, s.Status, step, s.Vm, now);
        await ServerActionStore.OnTransitionAsync(c, tx, r.ServerId, s.Project, s.Status, s.Task, step, now);
        await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source", new { source = r.SourceHost }, tx);
    };

    /// <summary>
    /// The writes of a revert within one host, run in the release of the new placement's claims: the server back on its source host with
    /// the placement, spec and (a new) plan version it left, in REVERT_RESIZE — desired shut off until its domain is,
    /// then running as it was — its ports bound as before, the migration reverted, both hosts' revisions moved.
    /// </summary>
    public WithinCommit RevertWrites(OpenMigration open, string requestId, string? tokenId, Action<ServerActionRecord, LifecycleStep> begun) => async (c, tx) =>
    {
        var now = Now;
        var r = open.Record;
        var project = await ProjectAtAsync(c, tx, r.ServerId, ServerActions.RevertResize);
        var sameHost = r.SourceHost == r.DestHost;
        var vm = sameHost
            ? await c.ExecuteScalarAsync<string?>("SELECT vm_state FROM servers WHERE id = @id", new { id = r.ServerId }, tx)
            : (await c.ExecuteScalarAsync<string?>("SELECT source_vm_state FROM server_migrations WHERE id = @id", new { id = r.Id }, tx));
        var after = r.SourceStatus == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running;
        var step = ServerLifecycle.Next(new LifecycleState(ServerStatus.RevertResize, TaskState.ResizeReverting, PowerState.Shutoff, vm, [], after));
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET host = @host, placement = @placement, spec = @spec, plan_version = plan_version + 1, status = @Status, task_state = @TaskState,
                power_state = @PowerState, power_after = @after, shutdown_deadline = NULL, vm_state = @vm, updated_at = @now
            WHERE id = @id AND ((status = 'VERIFY_RESIZE' AND task_state IS NULL) OR status = 'RESIZE')
            """, new
        {
            host = r.SourceHost, placement = open.SourcePlacement.Json, spec = open.SourceSpec?.Json, step.Status, step.TaskState, step.PowerState,
            after = step.TaskState is null ? null : after, vm, now, id = r.ServerId,
        }, tx);
        if (moved == 0)
            throw new MoveRefusedException("another action on the server began meanwhile");
        if (open.SourceSpec is { } spec)
            await RebindAsync(c, tx, r.ServerId, spec.Value, open.SourcePlacement.Value);
        await CloseAsync(c, tx, r.Id, Reverted, now, r.Status);
        var action = new ServerActionRecord(requestId, r.ServerId, project, ServerActions.RevertResize, tokenId, now, null, null, null);
        await ServerActionStore.RecordAsync(c, tx, action);
        await ArrivedAsync(c, tx, r.ServerId, project, step, now);
        if (!sameHost)
            await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @source", new { source = r.SourceHost }, tx);
        begun(action, step);
    };

    /// <summary>Records a migration with the placement and spec the server left (<paramref name="old"/>, its claims kept) and the one it went to.</summary>
    private static Task InsertAsync(DbConnection c, DbTransaction tx, MigrationRecord migration, string old, Placement moved, string? oldSpec, int oldVersion) =>
        c.ExecuteAsync("""
            INSERT INTO server_migrations (id, server_id, kind, status, source_host, dest_host, source_placement, dest_placement, source_spec, source_plan_version,
                source_status, source_vm_state, disk_sent, created_at, updated_at)
            VALUES (@Id, @ServerId, @Kind, @Status, @SourceHost, @DestHost, @old, @moved, @oldSpec, @oldVersion, @SourceStatus, @SourceVmState, FALSE, @CreatedAt, @UpdatedAt)
            """, new
        {
            migration.Id, migration.ServerId, migration.Kind, migration.Status, migration.SourceHost, migration.DestHost, old, moved = StoredDocuments.Write(moved),
            oldSpec, oldVersion, migration.SourceStatus, migration.SourceVmState, migration.CreatedAt, migration.UpdatedAt,
        }, tx);

    /// <summary>One move at a time: a server whose last one is still open (an evacuation waiting for its old host's agent, say) is refused.</summary>
    private static async Task RefuseOpenAsync(DbConnection c, DbTransaction tx, string serverId)
    {
        var open = await c.RowsAsync($"SELECT kind, status, source_host FROM server_migrations WHERE server_id = @serverId AND status IN ({PlacementStore.OpenMigrations})",
            new { serverId }, r => (Kind: r.GetString(0), Status: r.GetString(1), Source: r.GetString(2)), tx);
        if (open.Count > 0)
        {
            throw new MoveRefusedException(open[0].Status == Evacuating
                ? $"its evacuation off {open[0].Source} is not over: that host's agent has not reported it taken down (the claims it left there are held until then)"
                : $"its {open[0].Kind} is {open[0].Status}");
        }
    }

    /// <summary>The server's project, when its status (read in the transaction) still allows <paramref name="action"/> (<see cref="ServerActions.MayMove"/>).</summary>
    private static async Task<string> ProjectAtAsync(DbConnection c, DbTransaction tx, string serverId, string action)
    {
        var rows = await c.RowsAsync("SELECT status, task_state, project_id FROM servers WHERE id = @serverId", new { serverId },
            r => (Status: r.GetString(0), Task: r.NullableString(1), Project: r.GetString(2)), tx);
        if (rows.Count == 0)
            throw new MoveRefusedException("the server is gone");
        if (!ServerActions.MayMove(action, rows[0].Status, rows[0].Task, out var refusal))
            throw new MoveRefusedException(refusal!);
        return rows[0].Project;
    }

    /// <summary>Closes the migration, if it is still as it was read (else the move it belongs to is over: refused).</summary>
    private static async Task CloseAsync(DbConnection c, DbTransaction tx, string id, string status, string now, string was)
    {
        if (await c.ExecuteAsync("UPDATE server_migrations SET status = @status, updated_at = @now WHERE id = @id AND status = @was", new { status, now, id, was }, tx) == 0)
            throw new MoveRefusedException("the resize or migration was confirmed or reverted meanwhile");
    }

    /// <summary>A move's step that brings the server to rest finishes its action; VERIFY_RESIZE also marks the migration finished.</summary>
    private static async Task ArrivedAsync(DbConnection c, DbTransaction tx, string serverId, string project, LifecycleStep step, string now)
    {
        await ServerActionStore.OnTransitionAsync(c, tx, serverId, project, ServerStatus.Resize, TaskState.ResizeMigrating, step, now);
        if (step.Status == ServerStatus.VerifyResize)
            await MarkFinishedAsync(c, tx, serverId, now);
    }

    /// <summary>The server's open migration is finished (the server in VERIFY_RESIZE), within the caller's transaction.</summary>
    internal static Task MarkFinishedAsync(DbConnection c, DbTransaction tx, string serverId, string now) =>
        c.ExecuteAsync("UPDATE server_migrations SET status = 'finished', updated_at = @now WHERE server_id = @serverId AND status = 'migrating'",
            new { serverId, now }, tx);

    /// <summary>The server's ports bound to the devices of <paramref name="placement"/> (by the names its spec gives them).</summary>
    private static async Task RebindAsync(DbConnection c, DbTransaction tx, string serverId, ServerSpec spec, Placement placement)
    {
        foreach (var port in spec.Ports.Where(p => p.PortId is not null))
        {
            await c.ExecuteAsync("UPDATE ports SET binding = @binding, status = 'BOUND' WHERE id = @id AND server_id = @serverId",
                new { binding = StoredDocuments.Write(PortBinding.Of(placement, port.Name)), id = port.PortId, serverId }, tx);
        }
    }

    private const string Columns = "id, server_id, kind, status, source_host, dest_host, source_status, disk_sent, source_vm_state, created_at, updated_at, disk_sha256";

    private static MigrationRecord Read(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
        r.GetString(6), r.Bool(7), r.NullableString(8), r.GetString(9), r.GetString(10), r.NullableString(11));
}
