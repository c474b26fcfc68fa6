using System.Globalization;
using System.Reflection;
using Dapper;

namespace Isola.Store;

/// <summary>
/// Applies the embedded migrations (Migrations/NNNN_name.sql) that a database lacks, in order, each
/// in its own transaction, and records them in schema_migrations. Safe when several processes start
/// at once: on PostgreSQL they queue on an advisory lock, on SQLite on the write lock.
/// </summary>
public static class Migrator
{
    private const long AdvisoryLock = 0x1501A;

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    public static async Task<IReadOnlyList<int>> MigrateAsync(StoreConnectionFactory factory, TimeProvider time, CancellationToken ct = default)
    {
        await using var connection = await factory.OpenAsync(ct);
        if (factory.Engine == StoreEngine.Sqlite)
            await connection.ExecuteAsync("PRAGMA journal_mode = WAL"); // a property of the database file: once is enough
        await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
        var applied = new List<int>();
        foreach (var (version, name, sql) in Migrations)
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            if (factory.Engine == StoreEngine.Postgres)
                await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@key)", new { key = AdvisoryLock }, tx);
            else
                await connection.ExecuteAsync("UPDATE schema_migrations SET name = name WHERE version = -1", transaction: tx); // takes SQLite's write lock
            var done = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, tx);
            if (done > 0)
                continue;
            await connection.ExecuteAsync(sql, transaction: tx);
            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)",
                new { version, name, at = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture) }, tx);
            await tx.CommitAsync(ct);
            applied.Add(version);
        }
        return applied;
    }

    private static List<(int, string, string)> Load()
    {
        var assembly = Assembly.GetExecutingAssembly();
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("migrations/", StringComparison.Ordinal))
            .Select(n =>
            {
                var file = n["migrations/".Length..^".sql".Length];
                using var reader = new StreamReader(assembly.GetManifestResourceStream(n)!);
                return (int.Parse(file[..4], CultureInfo.InvariantCulture), file[5..], reader.ReadToEnd());
            })
            .OrderBy(m => m.Item1)
            .ToList();
    }
}
