using System.Data.Common;
using Dapper;

namespace Isola.Store.Resources;

/// <summary>Reads rows by hand: SQLite and PostgreSQL hand back different CLR types for the same column (bool, int).</summary>
internal static class Db
{
    public static async Task<List<T>> RowsAsync<T>(this DbConnection connection, string sql, object? param, Func<DbDataReader, T> map, DbTransaction? tx = null)
    {
        await using var reader = await connection.ExecuteReaderAsync(sql, param, tx);
        var rows = new List<T>();
        while (await reader.ReadAsync())
            rows.Add(map(reader));
        return rows;
    }

    /// <summary>
    /// A transaction for reading a consistent snapshot. On SQLite a deferred one: the default
    /// (BEGIN IMMEDIATE) takes the database's one write lock, which every agent's poll would then
    /// queue for behind the writer. PostgreSQL's default (read committed, one snapshot per statement)
    /// is what the callers had before.
    /// </summary>
    public static async Task<DbTransaction> BeginReadAsync(this DbConnection connection) =>
        connection is Microsoft.Data.Sqlite.SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await connection.BeginTransactionAsync();

    public static string? NullableString(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    /// <summary>A typed document from a NOT NULL text column (read when first used).</summary>
    public static Documents.StoredDocument<T> Document<T>(this DbDataReader r, int i) where T : class => Documents.StoredDocument<T>.FromColumn(r.GetString(i));

    /// <summary>A typed document from a text column that may be NULL.</summary>
    public static Documents.StoredDocument<T>? NullableDocument<T>(this DbDataReader r, int i) where T : class =>
        Documents.StoredDocument<T>.FromNullableColumn(r.NullableString(i));

    public static long? NullableLong(this DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);

    public static long Long(this DbDataReader r, int i) => Convert.ToInt64(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);

    public static bool Bool(this DbDataReader r, int i) => Convert.ToBoolean(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
}
