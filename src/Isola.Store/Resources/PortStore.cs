using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

/// <summary>A port: what was asked of it (<see cref="Spec"/>) and, once its server is placed, the host and devices it got (<see cref="Binding"/>).</summary>
public sealed record PortRecord(string Id, string ProjectId, string NetworkId, string Name, string Mac, string Status, string? ServerId,
    StoredDocument<PortSpec> Spec, StoredDocument<PortBinding>? Binding);

/// <summary>Which ports a list shows (null: any): <paramref name="Network"/> by id or name, <paramref name="Device"/> the server bound to it by id or name.</summary>
public sealed record PortFilter(string? Name = null, string? Network = null, string? Device = null, string? Status = null);

/// <summary>A port could not be bound to a server being created: another server holds it, or it was deleted (<paramref name="Gone"/>) meanwhile.</summary>
public sealed class PortBindingException(string portId, bool gone)
    : Exception(gone ? $"port {portId} was deleted while the server was being created" : $"port {portId} was bound to another server meanwhile")
{
    public string PortId { get; } = portId;

    public bool Gone { get; } = gone;
}

/// <summary>
/// An address a new port asks for in a subnet: <see cref="Address"/> when given, else the one
/// <see cref="Pick"/> chooses given the subnet's used addresses (null: none left).
/// </summary>
public sealed record AddressRequest(string SubnetId, string? Address, Func<IReadOnlySet<string>, string?>? Pick = null);

public sealed record AllocatedAddress(string SubnetId, string Address);

public enum PortCreate
{
    Created,
    /// <summary>Its MAC is in use or its name taken in the project.</summary>
    NameOrMacTaken,
    /// <summary>The address of request <see cref="PortCreateResult.Index"/> is held by another port.</summary>
    AddressInUse,
    /// <summary>The subnet of request <see cref="PortCreateResult.Index"/> has no free address left.</summary>
    AddressesExhausted,
    /// <summary>A subnet, QoS policy or security group it refers to was deleted (or the policy's rules changed) meanwhile.</summary>
    ReferenceGone,
}

public sealed record PortCreateResult(PortCreate Outcome, int Index = -1, IReadOnlyList<AllocatedAddress>? Addresses = null);

/// <summary>What a port has beyond its row of 0002: addresses, QoS policy, port security and groups.</summary>
public sealed record PortExtras(IReadOnlyList<AllocatedAddress> FixedIps, string? QosPolicyId, bool PortSecurityEnabled, IReadOnlyList<string> SecurityGroupIds);

/// <summary>
/// The port options of 0003 a port is created with. <see cref="QosRuleIds"/>: the policy's rules the
/// port's spec was made from; if they changed meanwhile, the create is refused.
/// </summary>
public sealed record PortOptions(
    IReadOnlyList<AddressRequest> Addresses, string? QosPolicyId, IReadOnlyList<string> QosRuleIds, bool PortSecurityEnabled, IReadOnlyList<string> SecurityGroupIds,
    string? CreatedFor = null);

/// <summary>
/// Ports with what they hold: their addresses (ip_allocations), QoS policy, port security and
/// security groups, and their binding to a server (written inside the server's commit).
/// </summary>
public sealed class PortStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string PortColumns = "id, project_id, network_id, name, mac, status, server_id, spec, binding";

    private static PortRecord Port(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.NullableString(6),
            r.Document<PortSpec>(7), r.NullableDocument<PortBinding>(8));

    /// <summary>A page of the ports of the project (all for null) that match the filter, oldest first.</summary>
    public async Task<Page<PortRecord>> ListAsync(string? projectId, PortFilter? filter = null, PageRequest? page = null)
    {
        filter ??= new PortFilter();
        await using var c = await factory.OpenAsync();
        return await new ListSql("port", "ports", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId", ("projectId", projectId))
            .Filter("name = @name", "name", filter.Name)
            .Filter("network_id = @network OR network_id IN (SELECT id FROM networks WHERE name = @network)", "network", filter.Network)
            .Filter("server_id = @device OR server_id IN (SELECT id FROM servers WHERE name = @device)", "device", filter.Device)
            .Filter("status = @status", "status", filter.Status)
            .PageAsync(c, PortColumns, page ?? PageRequest.All, Port, p => p.Id);
    }

    /// <summary>A port of the project (any for null) by id or name.</summary>
    public async Task<PortRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"SELECT {PortColumns} FROM ports WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId)",
            new { projectId, idOrName }, Port);
        return ByIdOrName.Pick(rows, idOrName, projectId, p => p.Id, p => p.ProjectId);
    }

    public async Task<bool> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM ports WHERE id = @id AND server_id IS NULL", new { id }) > 0;
    }

    /// <summary>Deletes the unbound ports a server made for itself (when it goes, or when its create failed).</summary>
    public async Task<int> DeleteCreatedForAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM ports WHERE created_for = @serverId AND server_id IS NULL", new { serverId });
    }

    /// <summary>
    /// Deletes ports made for a server that never came to be (the process died between making them and
    /// committing the server), once older than <paramref name="before"/>.
    /// </summary>
    public async Task<int> DeleteOrphanedAsync(DateTimeOffset before)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("""
            DELETE FROM ports WHERE created_for IS NOT NULL AND server_id IS NULL AND created_at < @before
                AND NOT EXISTS (SELECT 1 FROM servers s WHERE s.id = ports.created_for)
            """, new { before = before.ToString("O", CultureInfo.InvariantCulture) });
    }

    /// <summary>Binds ports to a server inside the server's commit, so a failed create binds nothing.</summary>
    public static async Task BindAsync(DbConnection c, DbTransaction tx, string serverId, IEnumerable<(string PortId, PortBinding Binding)> bindings)
    {
        foreach (var (port, binding) in bindings)
        {
            var n = await c.ExecuteAsync("UPDATE ports SET server_id = @serverId, status = 'BOUND', binding = @binding WHERE id = @port AND server_id IS NULL",
                new { serverId, binding = StoredDocuments.Write(binding), port }, tx);
            if (n == 0)
            {
                // Lost a race: another create bound it first, or it was deleted meanwhile.
                var holder = await c.QuerySingleOrDefaultAsync<(string Id, string? ServerId)?>("SELECT id, server_id FROM ports WHERE id = @port", new { port }, tx);
                throw new PortBindingException(port, holder is null);
            }
        }
    }

    /// <summary>Frees a server's ports (inside its release).</summary>
    public static Task UnbindAsync(DbConnection c, DbTransaction tx, string serverId) =>
        c.ExecuteAsync("UPDATE ports SET server_id = NULL, status = 'DOWN', binding = NULL WHERE server_id = @serverId", new { serverId }, tx);

    /// <summary>Test seam: runs after every write of a port create and before its commit (a failure there must leave nothing).</summary>
    internal Func<Task>? BeforeCommit { get; set; }

    /// <summary>
    /// Inserts a port, its addresses and its security groups in one transaction: either all are
    /// written or nothing is. Addresses are claimed with INSERT .. ON CONFLICT DO NOTHING on the key
    /// (subnet, address), so of two processes picking the same free address one gets it and the
    /// other picks again. <paramref name="spec"/> makes the port's spec once its addresses are known.
    /// </summary>
    public async Task<PortCreateResult> CreateAsync(PortRecord p, PortOptions options, Func<IReadOnlyList<AllocatedAddress>, PortSpec> spec)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        try
        {
            // The port first: on SQLite this write takes the database's write lock, so what is read next stays true.
            await c.ExecuteAsync("""
                INSERT INTO ports (id, project_id, network_id, name, mac, status, server_id, spec, binding, qos_policy_id, port_security, created_for, created_at)
                VALUES (@Id, @ProjectId, @NetworkId, @Name, @Mac, @Status, @ServerId, @Spec, @Binding, @qos, @security, @createdFor, @now)
                """, new
                {
                    p.Id, p.ProjectId, p.NetworkId, p.Name, p.Mac, p.Status, p.ServerId, Spec = p.Spec.Json, Binding = p.Binding?.Json, qos = options.QosPolicyId, security = options.PortSecurityEnabled,
                    createdFor = options.CreatedFor, now = Now,
                }, tx);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return new(PortCreate.NameOrMacTaken);
        }
        try
        {
            if (options.QosPolicyId is { } policy)
            {
                // Locked as a rule create locks it: rules added after they were read are seen here.
                await c.ExecuteAsync("UPDATE qos_policies SET name = name WHERE id = @policy", new { policy }, tx);
                var rules = await c.QueryAsync<string>("SELECT id FROM qos_rules WHERE policy_id = @policy", new { policy }, tx);
                if (!rules.ToHashSet(StringComparer.Ordinal).SetEquals(options.QosRuleIds))
                    return new(PortCreate.ReferenceGone);
            }
            var allocated = new List<AllocatedAddress>();
            for (var i = 0; i < options.Addresses.Count; i++)
            {
                var request = options.Addresses[i];
                var address = await ClaimAsync(c, tx, p.Id, request);
                if (address is null)
                    return new(request.Address is null ? PortCreate.AddressesExhausted : PortCreate.AddressInUse, i);
                allocated.Add(new AllocatedAddress(request.SubnetId, address));
            }
            foreach (var group in options.SecurityGroupIds.Distinct())
                await c.ExecuteAsync("INSERT INTO port_security_groups (port_id, group_id) VALUES (@port, @group)", new { port = p.Id, group }, tx);
            await c.ExecuteAsync("UPDATE ports SET spec = @spec WHERE id = @Id", new { p.Id, spec = StoredDocuments.Write(spec(allocated)) }, tx);
            if (BeforeCommit is { } hook)
                await hook();
            await tx.CommitAsync();
            return new(PortCreate.Created, Addresses: allocated);
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return new(PortCreate.ReferenceGone);
        }
    }

    /// <summary>The address claimed for the port, or null: the given one is taken, or the subnet has none free.</summary>
    private static async Task<string?> ClaimAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string portId, AddressRequest request)
    {
        const string Insert = "INSERT INTO ip_allocations (subnet_id, address, port_id) VALUES (@subnet, @address, @portId) ON CONFLICT (subnet_id, address) DO NOTHING";
        if (request.Address is { } given)
            return await c.ExecuteAsync(Insert, new { subnet = request.SubnetId, address = given, portId }, tx) == 1 ? given : null;
        // Each miss means another process took that address since the read; 64 misses in a row is a subnet nearly full under heavy load.
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var used = (await c.QueryAsync<string>("SELECT address FROM ip_allocations WHERE subnet_id = @subnet", new { subnet = request.SubnetId }, tx)).ToHashSet(StringComparer.Ordinal);
            if (request.Pick!(used) is not { } address)
                return null;
            if (await c.ExecuteAsync(Insert, new { subnet = request.SubnetId, address, portId }, tx) == 1)
                return address;
        }
        return null;
    }

    /// <summary>The addresses, QoS policy, port security and groups of the given ports.</summary>
    public async Task<IReadOnlyDictionary<string, PortExtras>> ExtrasAsync(IReadOnlyCollection<string> portIds)
    {
        await using var c = await factory.OpenAsync();
        var (ids, p) = InList.Of(portIds);
        var ips = (await c.QueryAsync<(string Port, string Subnet, string Address)>(
            $"SELECT port_id, subnet_id, address FROM ip_allocations WHERE port_id IN {ids}", p)).ToLookup(r => r.Port);
        var groups = (await c.QueryAsync<(string Port, string Group)>(
            $"SELECT port_id, group_id FROM port_security_groups WHERE port_id IN {ids} ORDER BY group_id", p)).ToLookup(r => r.Port);
        var ports = await c.RowsAsync($"SELECT id, qos_policy_id, port_security FROM ports WHERE id IN {ids}", p,
            r => (Id: r.GetString(0), Qos: r.NullableString(1), Security: r.Bool(2)));
        return ports.ToDictionary(x => x.Id, x => new PortExtras(
            ips[x.Id].Select(r => new AllocatedAddress(r.Subnet, r.Address)).ToList(), x.Qos, x.Security, groups[x.Id].Select(g => g.Group).ToList()));
    }
}
