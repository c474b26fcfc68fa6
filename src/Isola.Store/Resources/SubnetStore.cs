using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Documents;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

/// <summary>An allocation pool: first and last address, inclusive.</summary>
public sealed record PoolRecord(string Start, string End);

public sealed record SubnetRecord(
    string Id, string ProjectId, string NetworkId, string Name, int IpVersion, string Cidr, string? GatewayIp,
    IReadOnlyList<PoolRecord> AllocationPools, IReadOnlyList<string> DnsNameservers, bool EnableDhcp);

public enum SubnetCreate
{
    Created,
    NameTaken,
    /// <summary>Another subnet of the network overlaps it.</summary>
    Overlaps,
    NetworkGone,
}

/// <summary>Subnets of networks: CIDR, gateway, allocation pools, DNS servers.</summary>
public sealed class SubnetStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string SubnetColumns = "s.id, s.project_id, s.network_id, s.name, s.ip_version, s.cidr, s.gateway_ip, s.allocation_pools, s.dns_nameservers, s.enable_dhcp";

    private static SubnetRecord Subnet(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), (int)r.Long(4), r.GetString(5), r.NullableString(6),
        StoredDocuments.Read<List<PoolRecord>>(r.GetString(7)), StoredDocuments.Read<List<string>>(r.GetString(8)), r.Bool(9));

    /// <summary>
    /// Inserts a subnet unless <paramref name="overlaps"/> says it clashes with one of the network's
    /// subnets. The network's row is locked for the transaction, so two processes adding subnets to
    /// one network check and insert one after the other.
    /// </summary>
    public async Task<(SubnetCreate Outcome, SubnetRecord? Clash)> TryCreateAsync(SubnetRecord s, Func<SubnetRecord, bool> overlaps)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync("UPDATE networks SET mtu = mtu WHERE id = @NetworkId", new { s.NetworkId }, tx) == 0)
            return (SubnetCreate.NetworkGone, null);
        var clash = (await c.RowsAsync($"SELECT {SubnetColumns} FROM subnets s WHERE s.network_id = @NetworkId", new { s.NetworkId }, Subnet, tx)).FirstOrDefault(overlaps);
        if (clash is not null)
            return (SubnetCreate.Overlaps, clash);
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO subnets (id, project_id, network_id, name, ip_version, cidr, gateway_ip, allocation_pools, dns_nameservers, enable_dhcp, created_at)
                VALUES (@Id, @ProjectId, @NetworkId, @Name, @IpVersion, @Cidr, @GatewayIp, @pools, @dns, @EnableDhcp, @now)
                """, new
            {
                s.Id, s.ProjectId, s.NetworkId, s.Name, s.IpVersion, s.Cidr, s.GatewayIp, s.EnableDhcp, now = Now,
                pools = StoredDocuments.Write(s.AllocationPools), dns = StoredDocuments.Write(s.DnsNameservers),
            }, tx);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return (SubnetCreate.NameTaken, null);
        }
        await tx.CommitAsync();
        return (SubnetCreate.Created, null);
    }

    /// <summary>Subnets the project sees: its own and those of shared networks (all for null).</summary>
    /// <summary>
    /// A page of the subnets the project sees (its own and those of shared networks; all for null), oldest first; of that
    /// name, and of the network of that id or name, when given.
    /// </summary>
    public async Task<Page<SubnetRecord>> ListAsync(string? projectId, string? name = null, string? network = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("subnet", "subnets s JOIN networks n ON n.id = s.network_id", "s.created_at", "s.id")
            .Scope("@projectId IS NULL OR s.project_id = @projectId OR n.shared", ("projectId", projectId))
            .Filter("s.name = @name", "name", name)
            .Filter("s.network_id = @network OR n.name = @network", "network", network)
            .PageAsync(c, SubnetColumns, page ?? PageRequest.All, Subnet, s => s.Id);
    }

    /// <summary>A subnet the project sees (any for null), by id or name; its own first.</summary>
    public async Task<SubnetRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"""
            SELECT {SubnetColumns} FROM subnets s JOIN networks n ON n.id = s.network_id
            WHERE (s.id = @idOrName OR s.name = @idOrName) AND (@projectId IS NULL OR s.project_id = @projectId OR n.shared)
            """, new { projectId, idOrName }, Subnet);
        return ByIdOrName.Pick(rows, idOrName, projectId, s => s.Id, s => s.ProjectId);
    }

    /// <summary>A network's subnets, oldest first.</summary>
    public async Task<IReadOnlyList<SubnetRecord>> OfNetworkAsync(string networkId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync($"SELECT {SubnetColumns} FROM subnets s WHERE s.network_id = @networkId ORDER BY s.created_at, s.id", new { networkId }, Subnet);
    }

    /// <summary>Deletes a subnet no port holds an address in (the foreign key backs the check against a racing port create).</summary>
    public async Task<Removal> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM subnets WHERE id = @id AND NOT EXISTS (SELECT 1 FROM ip_allocations WHERE subnet_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM subnets WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
