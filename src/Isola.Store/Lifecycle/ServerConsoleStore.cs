using System.Globalization;
using Dapper;
using Isola.Store.Resources;

namespace Isola.Store.Lifecycle;

/// <summary>The tail of a server's serial console log as its host's agent last sent it.</summary>
public sealed record ServerConsole(string ServerId, string Text, string UpdatedAt);

/// <summary>Serial console logs: kept per server (the last one sent wins), gone with the server.</summary>
public sealed class ServerConsoleStore(StoreConnectionFactory factory, TimeProvider time)
{
    /// <summary>Keeps the log of a server that holds resources on <paramref name="host"/>; false when it does not (another host's, gone).</summary>
    public async Task<bool> PutAsync(string host, string serverId, string text)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var on = await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM servers WHERE id = @serverId AND host = @host AND status IN ({ServerStatus.HoldingList})",
            new { serverId, host }, tx);
        if (on == 0)
            return false;
        var now = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        await c.ExecuteAsync("""
            INSERT INTO server_consoles (server_id, host, text, bytes, updated_at) VALUES (@serverId, @host, @text, @bytes, @now)
            ON CONFLICT (server_id) DO UPDATE SET host = excluded.host, text = excluded.text, bytes = excluded.bytes, updated_at = excluded.updated_at
            """, new { serverId, host, text, bytes = (long)System.Text.Encoding.UTF8.GetByteCount(text), now }, tx);
        await tx.CommitAsync();
        return true;
    }

    public async Task<ServerConsole?> GetAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT server_id, text, updated_at FROM server_consoles WHERE server_id = @serverId", new { serverId },
            r => new ServerConsole(r.GetString(0), r.GetString(1), r.GetString(2)))).FirstOrDefault();
    }
}
