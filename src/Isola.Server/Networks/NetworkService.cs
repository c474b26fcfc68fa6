using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.Networks;

/// <summary>Networks as other features use them: found for a caller.</summary>
internal static class NetworkService
{
    /// <summary>A network the caller sees, by id or name.</summary>
    public static async Task<NetworkRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Networks.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("network", id);
    }
}
