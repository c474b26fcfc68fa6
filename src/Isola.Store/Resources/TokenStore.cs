using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

/// <summary>A token's rights: admin (everything), member (one project), host (one host's agent).</summary>
public sealed record TokenRecord(string Id, string Role, string? ProjectId, string? Host);

/// <summary>A token as it is listed: never its secret (only its hash is stored).</summary>
public sealed record TokenSummary(string Id, string Role, string? ProjectId, string? Host, string CreatedAt);

/// <summary>What deleting a token came to.</summary>
public enum TokenDeletion
{
    Deleted,
    NotFound,
    /// <summary>It is the last admin token: nobody could administer the store without it.</summary>
    LastAdmin,
}

/// <summary>
/// Tokens: only a hash of each secret is stored. Every request reads its token's row (no cache), so a
/// deleted token is refused at once by every server process on the store.
/// </summary>
public sealed class TokenStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>SHA-256 of a token secret, hex: what is stored and looked up.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string NewSecret() =>
        "isola_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private const string TokenInsert = "INSERT INTO tokens (id, secret_hash, role, project_id, host, created_at) VALUES (@Id, @hash, @Role, @ProjectId, @Host, @now)";

    /// <summary>Makes a token; the secret is returned here and never stored.</summary>
    public async Task<(TokenRecord Token, string Secret)> CreateAsync(string role, string? projectId, string? host)
    {
        var secret = NewSecret();
        var token = new TokenRecord(ResourceStore.NewId(), role, projectId, host);
        await using var c = await factory.OpenAsync();
        await c.ExecuteAsync(TokenInsert, new { token.Id, hash = Hash(secret), token.Role, token.ProjectId, token.Host, now = Now });
        return (token, secret);
    }

    /// <summary>The token a secret belongs to, read from its row: a deleted token is unknown from the moment its delete commits.</summary>
    public async Task<TokenRecord?> BySecretAsync(string secret)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT id, role, project_id, host FROM tokens WHERE secret_hash = @hash", new { hash = Hash(secret) },
            r => new TokenRecord(r.GetString(0), r.GetString(1), r.NullableString(2), r.NullableString(3)))).FirstOrDefault();
    }

    public async Task<bool> AnyAdminAsync()
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM tokens WHERE role = 'admin'") > 0;
    }

    private static TokenSummary Summary(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.NullableString(2), r.NullableString(3), r.GetString(4));

    /// <summary>A page of the tokens of a project (all for null), oldest first; of that role, when given; never their secrets.</summary>
    public async Task<Page<TokenSummary>> ListAsync(string? projectId, string? role = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("token", "tokens", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId", ("projectId", projectId))
            .Filter("role = @role", "role", role)
            .PageAsync(c, "id, role, project_id, host, created_at", page ?? PageRequest.All, Summary, t => t.Id);
    }

    public async Task<TokenSummary?> FindAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT id, role, project_id, host, created_at FROM tokens WHERE id = @id", new { id },
            Summary)).FirstOrDefault();
    }

    /// <summary>
    /// Deletes a token, unless it is the last admin token. Deletes of admin tokens are serialised (SQLite's
    /// write lock; on PostgreSQL the admin rows are locked), so two at once cannot remove the last two.
    /// </summary>
    public async Task<TokenDeletion> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var role = await c.ExecuteScalarAsync<string?>("SELECT role FROM tokens WHERE id = @id", new { id }, tx);
        if (role is null)
            return TokenDeletion.NotFound;
        if (role == "admin")
        {
            var admins = await AdminIdsAsync(c, tx);
            if (!admins.Contains(id))
                return TokenDeletion.NotFound;
            if (admins.Count == 1)
                return TokenDeletion.LastAdmin;
        }
        if (await c.ExecuteAsync("DELETE FROM tokens WHERE id = @id", new { id }, tx) == 0)
            return TokenDeletion.NotFound;
        await tx.CommitAsync();
        return TokenDeletion.Deleted;
    }

    /// <summary>
    /// A new admin token, and every other admin token deleted, in one transaction (for an operator who lost
    /// the admin token, straight on the store). Member and host tokens stay. Returns how many were deleted.
    /// </summary>
    public async Task<(TokenRecord Token, string Secret, int Revoked)> ResetAdminAsync()
    {
        var secret = NewSecret();
        var token = new TokenRecord(ResourceStore.NewId(), "admin", null, null);
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var revoked = (await AdminIdsAsync(c, tx)).Count;
        await c.ExecuteAsync("DELETE FROM tokens WHERE role = 'admin'", transaction: tx);
        await c.ExecuteAsync(TokenInsert, new { token.Id, hash = Hash(secret), token.Role, token.ProjectId, token.Host, now = Now }, tx);
        await tx.CommitAsync();
        return (token, secret, revoked);
    }

    /// <summary>The admin tokens' ids, locked on PostgreSQL until the transaction ends (SQLite's transaction holds the write lock already).</summary>
    private async Task<HashSet<string>> AdminIdsAsync(DbConnection c, DbTransaction tx) =>
        (await c.QueryAsync<string>("SELECT id FROM tokens WHERE role = 'admin'" + (factory.Engine == StoreEngine.Postgres ? " FOR UPDATE" : ""),
            transaction: tx)).ToHashSet(StringComparer.Ordinal);
}
