using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Domain.Serialization;
using Isola.Rendering;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Networks;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Ports;

public sealed record CreatePort(
    string? Name, string? Network, string? VnicType, bool Ha = false, string? Mac = null, int VlanQos = 0, bool SpoofCheck = true, bool Trust = false,
    int MaxTxRateMbps = 0, int MinTxRateMbps = 0, string? BondMode = null, IReadOnlyList<string>? Addresses = null, string? Gateway = null, string? Project = null);

/// <summary>/v1/ports. SR-IOV vnic types only on flat and vlan networks; HA only for direct ports; MACs unique.</summary>
internal static partial class PortEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/ports", async (CreatePort body, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            Names.Check(body.Name, "name", errors);
            var vnic = body.VnicType switch
            {
                null or "normal" => VnicType.Normal,
                "direct" => VnicType.Direct,
                "direct-physical" => VnicType.DirectPhysical,
                "macvtap" => VnicType.Macvtap,
                "vdpa" => VnicType.Vdpa,
                _ => (VnicType?)null,
            };
            if (vnic is null)
                errors.Add(new("vnicType", "must be normal, direct, direct-physical, macvtap or vdpa"));
            if (body.Ha && vnic != VnicType.Direct)
                errors.Add(new("ha", "an HA bond needs vnic type direct"));
            var mac = body.Mac?.ToLowerInvariant();
            if (mac is not null && (!MacRule().IsMatch(mac) || (Convert.ToInt32(mac[..2], 16) & 1) == 1 || mac == "00:00:00:00:00:00"))
                errors.Add(new("mac", $"'{body.Mac}' is not a unicast MAC aa:bb:cc:dd:ee:ff"));
            var bond = body.BondMode switch
            {
                null or "active-backup" => BondMode.ActiveBackup,
                "balance-rr" => BondMode.BalanceRr,
                "balance-xor" => BondMode.BalanceXor,
                _ => (BondMode?)null,
            };
            if (bond is null)
                errors.Add(new("bondMode", "must be active-backup, balance-rr or balance-xor"));
            if (body.VlanQos is < 0 or > 7)
                errors.Add(new("vlanQos", "must be 0-7"));
            if (body.MaxTxRateMbps < 0 || body.MinTxRateMbps < 0 || (body.MaxTxRateMbps > 0 && body.MinTxRateMbps > body.MaxTxRateMbps))
                errors.Add(new("minTxRateMbps", "rates are not negative and the minimum does not exceed the maximum"));
            NetworkRecord? network = null;
            if (body.Network is null)
                errors.Add(new("network", "a port is on a network"));
            else
                network = await NetworkEndpoints.Find(store, caller, body.Network);
            var sriov = vnic is VnicType.Direct or VnicType.DirectPhysical or VnicType.Macvtap or VnicType.Vdpa;
            if (network is not null && sriov && network.Type is not ("flat" or "vlan"))
                errors.Add(new("vnicType", $"SR-IOV ports ({body.VnicType}) live on flat or vlan networks; {network.Name} is {network.Type}"));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var spec = new PortSpec(body.Name!, vnic!.Value, mac ?? NewMac(), body.Ha, sriov ? network!.Physnet : null,
                    network!.Type == "vlan" ? (int?)network.Segment : null, body.VlanQos, "802.1Q", body.SpoofCheck, body.Trust, Isola.Domain.Pci.VfLinkState.Auto,
                    body.MaxTxRateMbps, body.MinTxRateMbps, bond!.Value, Mtu: network.Mtu, Addresses: body.Addresses, Gateway: body.Gateway);
                var port = new PortRecord(ResourceStore.NewId(), project, network.Id, spec.Name, spec.Mac, "DOWN", null, JsonSerializer.Serialize(spec, IsolaJson.Compact), null);
                if (await store.TryCreatePortAsync(port))
                    return Results.Created($"/v1/ports/{port.Id}", View(port));
                if (await store.PortAsync(project, port.Name) is not null)
                    throw ApiException.Conflict("name-taken", $"the project has a port named {port.Name}", "name");
                if (mac is not null)
                    throw ApiException.Conflict("mac-in-use", $"MAC {mac} is in use", "mac");
            }
            throw ApiException.Conflict("mac-in-use", "no free MAC after 5 tries", "mac");
        });
        api.MapGet("/ports", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            return Results.Ok((await store.PortsAsync(caller.ProjectScope)).Select(View));
        });
        api.MapGet("/ports/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(View(await Find(store, Caller.Of(http), id))));
        api.MapDelete("/ports/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var port = await Find(store, Caller.Of(http), id);
            if (port.ServerId is not null || !await store.DeletePortAsync(port.Id))
                throw ApiException.Conflict("in-use", $"port {port.Name} is bound to a server; delete the server first");
            return Results.NoContent();
        });
    }

    public static async Task<PortRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.PortAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("port", id);
    }

    public static PortSpec Spec(PortRecord port) => JsonSerializer.Deserialize<PortSpec>(port.Spec, IsolaJson.Options)!;

    public static object View(PortRecord p) => new
    {
        p.Id,
        p.Name,
        project = p.ProjectId,
        network = p.NetworkId,
        p.Mac,
        p.Status,
        server = p.ServerId,
        spec = Spec(p),
        binding = p.Binding is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(p.Binding),
    };

    private static string NewMac()
    {
        Span<byte> b = stackalloc byte[3];
        RandomNumberGenerator.Fill(b);
        return $"fa:16:3e:{b[0]:x2}:{b[1]:x2}:{b[2]:x2}";
    }

    [GeneratedRegex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]
    private static partial Regex MacRule();
}
