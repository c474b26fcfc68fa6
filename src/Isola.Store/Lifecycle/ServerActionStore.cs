using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Rendering;
using Isola.Store.Documents;
using Isola.Store.Resources;
using Isola.Store.Listing;

namespace Isola.Store.Lifecycle;

/// <summary>An action on a server, as Nova's instance actions show it.</summary>
/// <param name="TokenId">The token that asked (Isola's callers are tokens); null: the system (a host's agent found the guest shut off, a timeout).</param>
/// <param name="Result">Success or Error; null while in progress.</param>
public sealed record ServerActionRecord(string RequestId, string ServerId, string ProjectId, string Action, string? TokenId, string StartedAt,
    string? FinishedAt, string? Result, string? Message);

/// <summary>An action that began: its record, the server's host, and where the server stands now.</summary>
public sealed record ActionBegun(ServerActionRecord Action, string Host, LifecycleStep Step);

/// <summary>What a rebuild puts in place of the server's spec: made from the plan version it will be at.</summary>
/// <param name="ImageId">The image it boots from now (<c>servers.image_id</c>).</param>
public sealed record SpecChange(Func<int, StoredDocument<ServerSpec>> Spec, string? ImageId);

/// <summary>
/// The store's side of server actions: an action begins in one transaction with the server's move to
/// its task (conditional on the status and task read, so of two racing actions one wins) and its host's
/// revision; a report or a sweep that brings the server to rest finishes it. Every action is recorded
/// (<c>server_actions</c>), also a guest's own poweroff, found by its host's agent.
/// </summary>
public sealed class ServerActionStore(StoreConnectionFactory factory, TimeProvider time)
{
    public const string Success = "Success";
    public const string Error = "Error";

    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>
    /// Begins <paramref name="action"/> on a server that holds resources on a host: null and the
    /// reason when its status or task does not allow it (or another action began meanwhile).
    /// </summary>
    /// <param name="shutdownTimeout">How long a clean shutdown may take before the agent powers the domain off.</param>
    public async Task<(ActionBegun? Begun, string? Refusal)> BeginAsync(string serverId, string action, bool hard, string requestId, string? tokenId,
        TimeSpan shutdownTimeout, SpecChange? change = null)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var rows = await c.RowsAsync($"""
            SELECT status, task_state, host, vm_state, plan_version, project_id FROM servers WHERE id = @serverId AND status IN ({ServerStatus.HoldingList})
            """, new { serverId }, r => (Status: r.GetString(0), Task: r.NullableString(1), Host: r.NullableString(2), Vm: r.NullableString(3),
                Version: (int)r.Long(4), Project: r.GetString(5)), tx);
        if (rows.Count == 0 || rows[0].Host is null)
            return (null, "the server holds nothing on a host");
        var row = rows[0];
        if (ServerActions.Begin(action, row.Status, row.Task, hard, out var refusal) is not { } start)
            return (null, refusal);
        var now = time.GetUtcNow();
        var deadline = start.CleanShutdown ? (now + shutdownTimeout).ToString("O", CultureInfo.InvariantCulture) : null;
        var version = change is null ? row.Version : row.Version + 1;
        // What the last report said of the domain carries it on at once (a hard reboot of a SHUTOFF server starts it).
        var step = ServerLifecycle.Next(new LifecycleState(start.Status, start.TaskState, start.PowerState, row.Vm, [], start.PowerAfter, DiskCurrent: false));
        var moved = await c.ExecuteAsync("""
            UPDATE servers SET status = @Status, task_state = @TaskState, power_state = @PowerState, power_after = @after, shutdown_deadline = @deadline,
                plan_version = @version, updated_at = @at
            WHERE id = @serverId AND status = @was AND task_state IS NOT DISTINCT FROM @task
            """, new { step.Status, step.TaskState, step.PowerState, after = start.PowerAfter, deadline, version, at = Now, serverId, was = row.Status, task = row.Task }, tx);
        if (moved == 0)
            return (null, "another action on the server began meanwhile");
        if (change is not null)
        {
            await c.ExecuteAsync("UPDATE servers SET spec = @spec WHERE id = @serverId", new { spec = change.Spec(version).Json, serverId }, tx);
            if (change.ImageId is { } image)
                await ImageStore.ReferAsync(c, tx, serverId, image);
            else
                await c.ExecuteAsync("UPDATE servers SET image_id = NULL WHERE id = @serverId", new { serverId }, tx);
        }
        var record = new ServerActionRecord(requestId, serverId, row.Project, action, tokenId, Now, null, null, null);
        await RecordAsync(c, tx, record);
        await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @host", new { host = row.Host }, tx);
        await tx.CommitAsync();
        return (new ActionBegun(record, row.Host!, step), null);
    }

    /// <summary>A page of the actions of a server, oldest first (a marker is a request id).</summary>
    public async Task<Page<ServerActionRecord>> ListAsync(string serverId, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("action", "server_actions", "started_at", "request_id", "request id")
            .Scope("server_id = @serverId", ("serverId", serverId))
            .PageAsync(c, Columns, page ?? PageRequest.All, Read, a => a.RequestId);
    }

    /// <summary>One action of a server by its request id.</summary>
    public async Task<ServerActionRecord?> FindAsync(string serverId, string requestId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync($"SELECT {Columns} FROM server_actions WHERE server_id = @serverId AND request_id = @requestId",
            new { serverId, requestId }, Read)).FirstOrDefault();
    }

    /// <summary>The project of a server that has actions (a deleted server's, for its actions).</summary>
    public async Task<string?> ProjectOfAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteScalarAsync<string?>("SELECT project_id FROM server_actions WHERE server_id = @serverId LIMIT 1", new { serverId });
    }

    /// <summary>
    /// Clean shutdowns past their deadline become power offs: their deadline cleared, their hosts'
    /// revisions moved. Answers the hosts whose agents have that to do.
    /// </summary>
    public async Task<IReadOnlyList<string>> ExpireCleanShutdownsAsync()
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var expired = (await c.QueryAsync<(string Id, string Host)>("""
            UPDATE servers SET shutdown_deadline = NULL WHERE shutdown_deadline IS NOT NULL AND shutdown_deadline < @now RETURNING id, host
            """, new { now = Now }, tx)).ToList();
        // A server moving between hosts is shut down on the one it left.
        var (ids, args) = InList.Of(expired.Select(e => e.Id).ToList());
        IEnumerable<string> sources = expired.Count == 0 ? Array.Empty<string>() : await c.QueryAsync<string>(
            $"SELECT source_host FROM server_migrations WHERE server_id IN {ids} AND status IN ('migrating', 'finished')", args, tx);
        var hosts = expired.Select(e => e.Host).Concat(sources).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var host in hosts)
            await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @host", new { host }, tx);
        await tx.CommitAsync();
        return hosts;
    }

    /// <summary>Records an action (within the caller's transaction).</summary>
    public static Task RecordAsync(DbConnection c, DbTransaction tx, ServerActionRecord a) =>
        c.ExecuteAsync("""
            INSERT INTO server_actions (request_id, server_id, project_id, action, token_id, started_at, finished_at, result, message)
            VALUES (@RequestId, @ServerId, @ProjectId, @Action, @TokenId, @StartedAt, @FinishedAt, @Result, @Message)
            """, a, tx);

    /// <summary>Finishes the server's actions in progress (within the caller's transaction).</summary>
    public static Task FinishAsync(DbConnection c, DbTransaction tx, string serverId, string result, string? message, string now) =>
        c.ExecuteAsync("""
            UPDATE server_actions SET finished_at = @now, result = @result, message = COALESCE(@message, message)
            WHERE server_id = @serverId AND finished_at IS NULL
            """, new { serverId, result, message, now }, tx);

    /// <summary>A server's move on a report (conditional on the status read: a timeout that moved it to ERROR meanwhile wins).</summary>
    internal static Task MoveAsync(DbConnection c, DbTransaction tx, string id, string was, LifecycleStep step, string? vm, string now) =>
        c.ExecuteAsync("""
            UPDATE servers SET status = @Status, task_state = @TaskState, power_state = @PowerState, vm_state = @vm, updated_at = @now,
                build_deadline = CASE WHEN @Status = 'BUILD' THEN build_deadline ELSE NULL END,
                shutdown_deadline = CASE WHEN @PowerState = 'shutoff' AND @TaskState IS NOT NULL THEN shutdown_deadline ELSE NULL END,
                power_after = CASE WHEN @TaskState IS NULL THEN NULL ELSE power_after END
            WHERE id = @id AND status = @was
            """, new { step.Status, step.TaskState, step.PowerState, vm, now, id, was }, tx);

    /// <summary>
    /// What a report's move means for the server's actions: at rest (no task), its action in progress
    /// succeeded; an ACTIVE or PAUSED server found shut off with none in progress was stopped by its
    /// guest (or by anyone but Isola), recorded as a stop by the system, as Nova's power-state sync records one.
    /// </summary>
    internal static async Task OnTransitionAsync(DbConnection c, DbTransaction tx, string id, string project, string was, string? wasTask, LifecycleStep to, string now)
    {
        // At rest: no task, in a status an action ends in (a resize ends in VERIFY_RESIZE, as Nova's does).
        if (to.TaskState is not null || to.Status is not (ServerStatus.Active or ServerStatus.Shutoff or ServerStatus.Paused or ServerStatus.VerifyResize))
            return;
        var finished = await c.ExecuteAsync("""
            UPDATE server_actions SET finished_at = @now, result = 'Success' WHERE server_id = @id AND finished_at IS NULL
            """, new { id, now }, tx);
        if (finished == 0 && wasTask is null && to.Status == ServerStatus.Shutoff && was is ServerStatus.Active or ServerStatus.Paused)
        {
            await RecordAsync(c, tx, new ServerActionRecord("req-" + Guid.NewGuid().ToString("D"), id, project, ServerActions.Stop, null, now, now, Success,
                "the domain was found shut off (the guest powered off, or something other than Isola stopped it); it stays off until started"));
        }
    }

    private const string Columns = "request_id, server_id, project_id, action, token_id, started_at, finished_at, result, message";

    private static ServerActionRecord Read(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4),
        r.GetString(5), r.NullableString(6), r.NullableString(7), r.NullableString(8));
}
