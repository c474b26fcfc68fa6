using System.Net;
using Isola.Server.Api;
using Isola.Server.Subnets;
using Isola.Store.Resources;

namespace Isola.Server.Ports;

public sealed record FixedIpBody(string? Subnet, string? IpAddress);

/// <summary>
/// The addresses a new port asks for. No fixedIps: one address from the network's first IPv4
/// subnet and one from its first IPv6 subnet (Neutron gives one per IP version); [] : none. Each
/// entry names a subnet of the port's network, an address in one, or both. A given address must be
/// a host address of its subnet (not the gateway; outside the pools is fine, as in Neutron).
/// </summary>
internal static class PortAddresses
{
    /// <summary>One address to claim, with the subnet it is in; <see cref="Field"/> names it in errors.</summary>
    public sealed record Planned(SubnetRecord Subnet, Cidr Cidr, AddressRequest Request, string Field);

    public static async Task<IReadOnlyList<Planned>> PlanAsync(ResourceStore store, NetworkRecord network, IReadOnlyList<FixedIpBody>? fixedIps, List<FieldError> errors)
    {
        var subnets = await store.Subnets.OfNetworkAsync(network.Id);
        if (fixedIps is null)
        {
            return subnets.GroupBy(s => s.IpVersion).OrderBy(g => g.Key)
                .Select(g => Auto(g.First(), Cidr.Parse(g.First().Cidr), "fixedIps")).ToList();
        }
        var planned = new List<Planned>();
        for (var i = 0; i < fixedIps.Count; i++)
        {
            var (subnetName, ipText) = (fixedIps[i].Subnet, fixedIps[i].IpAddress);
            var field = $"fixedIps[{i}]";
            SubnetRecord? subnet = null;
            if (subnetName is not null)
            {
                subnet = subnets.FirstOrDefault(s => s.Id == subnetName) ?? subnets.FirstOrDefault(s => s.Name == subnetName);
                if (subnet is null)
                {
                    errors.Add(new($"{field}.subnet", $"network {network.Name} has no subnet '{subnetName}'"));
                    continue;
                }
            }
            if (ipText is null)
            {
                if (subnet is null)
                    errors.Add(new(field, "give a subnet, an ipAddress, or both"));
                else
                    planned.Add(Auto(subnet, Cidr.Parse(subnet.Cidr), $"{field}.subnet"));
                continue;
            }
            if (!Isola.Domain.Net.IpAddressText.TryParse(ipText, out var address, out var error))
            {
                errors.Add(new($"{field}.ipAddress", error));
                continue;
            }
            subnet ??= subnets.FirstOrDefault(s => Cidr.Parse(s.Cidr).Contains(address));
            if (subnet is null)
            {
                errors.Add(new($"{field}.ipAddress", $"{ipText} is in no subnet of network {network.Name}"));
                continue;
            }
            var cidr = Cidr.Parse(subnet.Cidr);
            var canonical = address.ToString();
            if (SubnetRules.HostAddress(ipText, cidr) is { } fault)
                errors.Add(new($"{field}.ipAddress", fault));
            else if (canonical == subnet.GatewayIp)
                errors.Add(new($"{field}.ipAddress", $"{ipText} is the gateway of subnet {subnet.Name}"));
            else if (planned.Any(p => p.Subnet.Id == subnet.Id && p.Request.Address == canonical))
                errors.Add(new($"{field}.ipAddress", $"{ipText} is asked for twice"));
            else
                planned.Add(new Planned(subnet, cidr, new AddressRequest(subnet.Id, canonical), $"{field}.ipAddress"));
        }
        return planned;
    }

    /// <summary>The lowest free address of the subnet's pools, skipping the gateway.</summary>
    private static Planned Auto(SubnetRecord subnet, Cidr cidr, string field)
    {
        var pools = subnet.AllocationPools.Select(p => new AddressRange(Cidr.Number(IPAddress.Parse(p.Start)), Cidr.Number(IPAddress.Parse(p.End)))).ToList();
        UInt128? gateway = subnet.GatewayIp is null ? null : Cidr.Number(IPAddress.Parse(subnet.GatewayIp));
        string? Pick(IReadOnlySet<string> used)
        {
            var taken = used.Select(u => Cidr.Number(IPAddress.Parse(u))).ToHashSet();
            return AddressRange.LowestFree(pools, taken, gateway) is { } free ? cidr.Address(free).ToString() : null;
        }
        return new Planned(subnet, cidr, new AddressRequest(subnet.Id, null, Pick), field);
    }

    /// <summary>
    /// The guest's addressing from what was allocated, where the request did not give it: each
    /// address with its subnet's prefix length, the gateway of the first IPv4 subnet (else the first
    /// subnet), the subnets' nameservers.
    /// </summary>
    public static (IReadOnlyList<string>? Addresses, string? Gateway, IReadOnlyList<string>? Dns) Guest(
        IReadOnlyList<Planned> planned, IReadOnlyList<AllocatedAddress> allocated, IReadOnlyList<string>? addresses, string? gateway)
    {
        if (allocated.Count == 0)
            return (addresses, gateway, null);
        var subnets = allocated.Select(a => planned.First(p => p.Subnet.Id == a.SubnetId)).ToList();
        var first = subnets.OrderBy(p => p.Subnet.IpVersion).First().Subnet;
        var dns = subnets.SelectMany(p => p.Subnet.DnsNameservers).Distinct().ToList();
        return (addresses ?? allocated.Select((a, i) => $"{a.Address}/{subnets[i].Cidr.Prefix}").ToList(), gateway ?? first.GatewayIp, dns.Count == 0 ? null : dns);
    }
}
