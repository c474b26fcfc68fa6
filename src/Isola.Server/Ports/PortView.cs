using System.Net;
using System.Text.Json;
using Isola.Server.Subnets;
using Isola.Store.Resources;

namespace Isola.Server.Ports;

/// <summary>A port as the API shows it: its row, its spec, its binding and what 0003 added (addresses, QoS policy, groups).</summary>
internal static class PortView
{
    public static async Task<IReadOnlyList<object>> ManyAsync(ResourceStore store, IReadOnlyList<PortRecord> ports)
    {
        var extras = await store.Ports.ExtrasAsync(ports.Select(p => p.Id).ToList());
        return ports.Select(p => Of(p, extras.GetValueOrDefault(p.Id))).ToList();
    }

    public static async Task<object> OneAsync(ResourceStore store, PortRecord port) => (await ManyAsync(store, [port]))[0];

    private static object Of(PortRecord p, PortExtras? extras) => new
    {
        p.Id,
        p.Name,
        project = p.ProjectId,
        network = p.NetworkId,
        p.Mac,
        p.Status,
        server = p.ServerId,
        fixedIps = (extras?.FixedIps ?? []).Select(a => (a, ip: IPAddress.Parse(a.Address)))
            .OrderBy(x => x.ip.AddressFamily).ThenBy(x => Cidr.Number(x.ip))
            .Select(x => new { subnet = x.a.SubnetId, ipAddress = x.a.Address }),
        qosPolicy = extras?.QosPolicyId,
        securityGroups = extras?.SecurityGroupIds ?? [],
        portSecurityEnabled = extras?.PortSecurityEnabled ?? true,
        spec = p.Spec.Value,
        // As stored: a binding written by an earlier release (without haLegs, say) is shown as it was written.
        binding = p.Binding is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(p.Binding.Json),
    };
}
