using Isola.Server.Api;
using Isola.Store;
using Isola.Store.Listing;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Servers;

/// <summary>
/// What <c>GET /v1/servers</c> filters on (Nova's list filters): <c>host</c>, <c>status</c> (one of
/// <see cref="ServerStatus.All"/>), <c>project</c> (id or name; admins only, as Nova's <c>all_tenants</c>),
/// <c>name</c> (a part of the name: Nova's is a regular expression, here plain text), <c>image</c> (id or
/// name) and <c>flavor</c> (a flavor's id or name; servers keep the name of the flavor they were built with).
/// </summary>
internal static class ServerListQuery
{
    public static async Task<(ServerFilter Filter, PageRequest Page)> ReadAsync(HttpContext http, Caller caller, ResourceStore store)
    {
        var query = ListQuery.Read(http, ListFilter.Text("host"), ListFilter.OneOf("status", ServerStatus.All), ListFilter.Text("project"),
            ListFilter.Text("name"), ListFilter.Text("image"), ListFilter.Text("flavor"));
        if (query["project"] is not null && !caller.IsAdmin)
            throw ApiException.Forbidden("the project filter needs an admin token (a member sees its own project's servers)");
        // A flavor's id stands for its name: a server's copy of its flavor keeps only the name.
        var flavor = query["flavor"] is { } f ? (await store.Flavors.FindAsync(f))?.Name ?? f : null;
        return (new ServerFilter(query["host"], query["status"], query["project"], query["name"], query["image"], flavor), query.Page);
    }
}
