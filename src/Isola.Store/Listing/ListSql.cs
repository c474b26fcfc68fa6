using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Resources;

namespace Isola.Store.Listing;

/// <summary>
/// One list read as SQL: rows of <c>from</c> that the caller sees (<see cref="Scope"/>) and that match
/// the filters given (<see cref="Filter"/>), sorted by (<c>sort</c>, <c>key</c>) and paged by keyset:
/// <c>WHERE (sort, key) &gt; (the marker's) ORDER BY sort, key LIMIT n+1</c>. The marker is looked up within
/// the scope alone (not the filters), so a page may start after an item the filters leave out. The
/// extra row says whether a next page exists. Portable SQL: SQLite and PostgreSQL run it as is.
/// </summary>
/// <param name="kind">What the rows are, for the unknown-marker message ("server").</param>
/// <param name="sort">The sort column (created_at; a host's name); text, compared as stored.</param>
/// <param name="key">The unique column a marker names (the id); may be <paramref name="sort"/> itself.</param>
/// <param name="keyName">What a marker is, for people ("id"; "name" for hosts).</param>
internal sealed class ListSql(string kind, string from, string sort, string key, string keyName = "id")
{
    private readonly List<string> _scope = [];
    private readonly List<string> _filters = [];
    // Each query names only some of the parameters (the marker's lookup none of the filters'): send only those.
    private readonly DynamicParameters _parameters = new() { RemoveUnused = true };

    /// <summary>A condition on what the caller may see; its parameters are named in <paramref name="parameters"/>.</summary>
    public ListSql Scope(string condition, params (string Name, object? Value)[] parameters)
    {
        _scope.Add(condition);
        foreach (var (name, value) in parameters)
            _parameters.Add(name, value, value is null or string ? System.Data.DbType.String : null); // PostgreSQL must know a NULL parameter's type ("@p IS NULL")
        return this;
    }

    /// <summary>A filter that applies only when its value was given: <paramref name="condition"/> reads it as <c>@name</c>.</summary>
    public ListSql Filter(string condition, string name, object? value)
    {
        if (value is null)
            return this;
        _filters.Add(condition);
        _parameters.Add(name, value);
        return this;
    }

    /// <summary>Reads the page: <paramref name="columns"/> mapped by <paramref name="map"/>; <paramref name="keyOf"/> gives a row's marker.</summary>
    public async Task<Page<T>> PageAsync<T>(DbConnection c, string columns, PageRequest page, Func<DbDataReader, T> map, Func<T, string> keyOf)
    {
        var where = new List<string>(_scope.Concat(_filters));
        if (page.Marker is { } marker)
        {
            var scope = _scope.Count == 0 ? "" : " AND " + string.Join(" AND ", _scope.Select(s => $"({s})"));
            _parameters.Add("pageMarker", marker);
            var at = await c.ExecuteScalarAsync<string?>($"SELECT {sort} FROM {from} WHERE {key} = @pageMarker{scope}", _parameters)
                     ?? throw new UnknownMarkerException(kind, marker, keyName);
            _parameters.Add("pageAt", at);
            where.Add(sort == key ? $"{key} > @pageMarker" : $"({sort} > @pageAt OR ({sort} = @pageAt AND {key} > @pageMarker))");
        }
        var sql = $"SELECT {columns} FROM {from}" + (where.Count == 0 ? "" : " WHERE " + string.Join(" AND ", where.Select(w => $"({w})")))
                  + (sort == key ? $" ORDER BY {key}" : $" ORDER BY {sort}, {key}")
                  + (page.Limit is { } limit ? " LIMIT " + (limit + 1).ToString(CultureInfo.InvariantCulture) : "");
        var rows = await c.RowsAsync(sql, _parameters, map);
        if (page.Limit is not { } n || rows.Count <= n)
            return new Page<T>(rows, null);
        rows.RemoveRange(n, rows.Count - n);
        return new Page<T>(rows, keyOf(rows[^1]));
    }
}
