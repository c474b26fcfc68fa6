using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Isola.Store;

public enum StoreEngine
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Where the store lives: SQLite by default (a file), PostgreSQL by connection string. The one
/// place that knows the two engines apart.
/// </summary>
public sealed class StoreConnectionFactory
{
    private StoreConnectionFactory(StoreEngine engine, string connectionString)
    {
        Engine = engine;
        ConnectionString = connectionString;
    }

    public StoreEngine Engine { get; }

    public string ConnectionString { get; }

    /// <summary>A SQLite file (created when missing), shared safely by several connections.</summary>
    public static StoreConnectionFactory Sqlite(string path) =>
        new(StoreEngine.Sqlite, new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30, ForeignKeys = true }.ToString());

    /// <summary>A PostgreSQL database, e.g. "Host=127.0.0.1;Port=5432;Database=isola;Username=isola".</summary>
    public static StoreConnectionFactory Postgres(string connectionString) => new(StoreEngine.Postgres, connectionString);

    /// <summary>"postgres://..." / "Host=..." for PostgreSQL, anything else is a SQLite file path.</summary>
    public static StoreConnectionFactory Parse(string value) =>
        value.StartsWith("Host=", StringComparison.OrdinalIgnoreCase) || value.Contains(";Database=", StringComparison.OrdinalIgnoreCase)
            ? Postgres(value)
            : Sqlite(value);

    /// <summary>The store for people: the SQLite file, or PostgreSQL's host, port and database (never a password).</summary>
    public string Describe()
    {
        if (Engine == StoreEngine.Sqlite)
            return new SqliteConnectionStringBuilder(ConnectionString).DataSource;
        var pg = new NpgsqlConnectionStringBuilder(ConnectionString);
        return $"PostgreSQL {pg.Host}:{pg.Port}/{pg.Database}";
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> Configured = [];

    private static readonly object Marker = new();

    public async Task<DbConnection> OpenAsync(CancellationToken ct = default)
    {
        DbConnection connection = Engine == StoreEngine.Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(ct);
        if (Engine == StoreEngine.Sqlite && !Configured.TryGetValue(((SqliteConnection)connection).Handle!, out _))
        {
            await using var pragma = connection.CreateCommand();
            // Per connection (foreign keys come from the connection string): in WAL mode (set once, by the
            // migrator) NORMAL sync keeps every commit atomic and skips an fsync per commit (a power loss
            // may lose the last commits, never half of one).
            pragma.CommandText = "PRAGMA synchronous = NORMAL";
            await pragma.ExecuteNonQueryAsync(ct);
            // Pooled connections keep their SQLite handle, and the setting with it: once per handle is enough.
            Configured.AddOrUpdate(((SqliteConnection)connection).Handle!, Marker);
        }
        return connection;
    }

    /// <summary>
    /// Whether a transaction failed only for the company it kept, and the same work may simply be
    /// tried again: PostgreSQL chose it as a deadlock's victim (40P01) or could not serialize it (40001);
    /// SQLite found the database busy or locked past its timeout.
    /// </summary>
    public static bool IsRetryable(Exception e) => e switch
    {
        SqliteException s => s.SqliteErrorCode is 5 or 6, // SQLITE_BUSY, SQLITE_LOCKED
        PostgresException p => p.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure,
        _ => false,
    };

    /// <summary>Whether an exception is a primary key / unique violation.</summary>
    public static bool IsUniqueViolation(Exception e) => e switch
    {
        SqliteException s => s.SqliteErrorCode == 19, // SQLITE_CONSTRAINT
        PostgresException p => p.SqlState == PostgresErrorCodes.UniqueViolation,
        _ => false,
    };

    /// <summary>Whether an exception is a foreign key violation (a row still referenced, or referencing one that is gone).</summary>
    public static bool IsForeignKeyViolation(Exception e) => e switch
    {
        SqliteException s => s.SqliteExtendedErrorCode == 787, // SQLITE_CONSTRAINT_FOREIGNKEY
        PostgresException p => p.SqlState == PostgresErrorCodes.ForeignKeyViolation,
        _ => false,
    };
}
