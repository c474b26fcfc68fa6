namespace Isola.Store.Resources;

/// <summary>A name that several resources the caller sees carry: the caller must use an id.</summary>
public sealed class AmbiguousNameException(string name, int count) : Exception($"{count} resources you can see are named '{name}'; use the id")
{
    public string Name { get; } = name;
}

/// <summary>
/// Picks the resource an "id or name" means among the rows that matched either: the id first, then
/// the caller's own project's (names are unique per project), then the only other one; several others
/// (an admin's view, shared resources of other projects) is ambiguous, as in the openstack client.
/// </summary>
internal static class ByIdOrName
{
    public static T? Pick<T>(IReadOnlyList<T> rows, string idOrName, string? ownProject, Func<T, string> id, Func<T, string> project)
        where T : class
    {
        if (rows.FirstOrDefault(r => id(r) == idOrName) is { } byId)
            return byId;
        if (ownProject is not null && rows.FirstOrDefault(r => project(r) == ownProject) is { } own)
            return own;
        return rows.Count switch
        {
            0 => null,
            1 => rows[0],
            _ => throw new AmbiguousNameException(idOrName, rows.Count),
        };
    }
}
