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

    public static string? NullableString(this DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static long? NullableLong(this DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);

    public static long Long(this DbDataReader r, int i) => Convert.ToInt64(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);

    public static bool Bool(this DbDataReader r, int i) => Convert.ToBoolean(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
}
