using Isola.Rendering;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Flavors;

public sealed record CreateFlavor(string? Name, int Vcpus, long Ram, int Disk, Dictionary<string, string>? ExtraSpecs);

/// <summary>/v1/flavors: admins make them, everyone uses them; extra specs are checked with Nova's rules, as the host plan reads them (<see cref="FlavorRules"/>).</summary>
internal static class FlavorEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/flavors", async (CreateFlavor body, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            if (body.Disk is < 0 or > 65536)
                errors.Add(new("disk", "must be 0-65536 GiB"));
            foreach (var (key, value) in body.ExtraSpecs ?? [])
            {
                if (value is null)
                    errors.Add(new($"extraSpecs.{key}", "an extra spec has a value (leave the key out for none)"));
                else if (key.Length is 0 or > 255 || value.Length > 255)
                    errors.Add(new($"extraSpecs.{key}", "keys are 1-255 characters and values at most 255, as in Nova"));
            }
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var flavor = new Flavor(body.Name ?? "", body.Vcpus, body.Ram, body.Disk, body.ExtraSpecs ?? []);
            // The host plan's own rules for the flavor (one set with the renderer: what passes here renders there).
            errors.AddRange(FlavorRules.Check(flavor).Select(x => new FieldError(x.Field, x.Message)));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var record = new FlavorRecord(ResourceStore.NewId(), flavor.Name, flavor.Vcpus, flavor.RamMiB, flavor.DiskGiB, flavor.ExtraSpecs);
            return await store.Flavors.TryCreateAsync(record)
                ? Results.Created($"/v1/flavors/{record.Id}", View(record))
                : throw ApiException.Conflict("name-taken", $"a flavor named {flavor.Name} exists", "name");
        });
        api.MapGet("/flavors", async (HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var flavors = await store.Flavors.ListAsync(query["name"], query.Page);
            return ListAnswer.Of(http, flavors, flavors.Items.Select(View));
        });
        api.MapGet("/flavors/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(View(await FlavorService.Find(store, Caller.Of(http), id))));
        api.MapDelete("/flavors/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            // Of two deletes of one flavor, the second finds it gone.
            if (!await store.Flavors.DeleteAsync((await FlavorService.Find(store, Caller.Of(http), id)).Id))
                throw ApiException.NotFound("flavor", id);
            return Results.NoContent();
        });
    }

    /// <summary>A flavor as the API shows it: the same names it is created with.</summary>
    public static object View(FlavorRecord f) => new { f.Id, f.Name, f.Vcpus, ram = f.RamMiB, disk = f.DiskGiB, f.ExtraSpecs };

}
