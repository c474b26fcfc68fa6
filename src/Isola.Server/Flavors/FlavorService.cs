using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.Flavors;

/// <summary>Flavors as other features use them: found for a caller, and as the scheduler takes them.</summary>
internal static class FlavorService
{
    /// <summary>A flavor by id or name.</summary>
    public static async Task<FlavorRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Flavors.FindAsync(id) ?? throw ApiException.NotFound("flavor", id);
    }

    public static Flavor ToFlavor(FlavorRecord f) => new(f.Name, f.Vcpus, f.RamMiB, f.DiskGiB, f.ExtraSpecs);
}
