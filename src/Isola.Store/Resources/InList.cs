using Dapper;

namespace Isola.Store.Resources;

/// <summary>
/// "IN (@p0, @p1, ...)" with one parameter per value. Dapper hands a list to Npgsql as one array
/// parameter ("IN $1" is not SQL), so both engines get the list spelled out.
/// </summary>
internal static class InList
{
    public static (string Sql, DynamicParameters Parameters) Of(IEnumerable<string> values)
    {
        var parameters = new DynamicParameters();
        var names = new List<string>();
        foreach (var (value, i) in values.Distinct().Select((v, i) => (v, i)))
        {
            names.Add($"@in{i}");
            parameters.Add($"in{i}", value);
        }
        return (names.Count == 0 ? "(NULL)" : $"({string.Join(", ", names)})", parameters);
    }
}
