namespace Isola.Store.Listing;

/// <summary>The few filter expressions SQLite and PostgreSQL spell differently.</summary>
internal static class SqlDialect
{
    /// <summary>Whether <paramref name="column"/> holds the text of <paramref name="parameter"/> anywhere (case-sensitive; no LIKE wildcards).</summary>
    public static string Contains(StoreEngine engine, string column, string parameter) =>
        engine == StoreEngine.Postgres ? $"strpos({column}, {parameter}) > 0" : $"instr({column}, {parameter}) > 0";

    /// <summary>The text at a path of the JSON document in a text column (<c>flavor.name</c> as ["flavor", "name"]).</summary>
    public static string JsonText(StoreEngine engine, string column, params string[] path) =>
        engine == StoreEngine.Postgres
            ? $"({column}::jsonb #>> '{{{string.Join(",", path)}}}')"
            : $"json_extract({column}, '$.{string.Join(".", path)}')";
}
