using System.Net;
using Isola.Domain.Net;
using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.Subnets;

public sealed record PoolBody(string? Start, string? End);

/// <summary>The prefix, gateway and pools of a subnet, checked with Neutron's rules; every fault is named by its field.</summary>
internal static class SubnetRules
{
    public const int MaxNameservers = 5;

    /// <summary>The checked addressing of a new subnet (its DNS servers in canonical text), or null when <paramref name="errors"/> says what is wrong.</summary>
    public static (Cidr Cidr, IPAddress? Gateway, IReadOnlyList<AddressRange> Pools, IReadOnlyList<string> Dns)? Check(CreateSubnet body, List<FieldError> errors)
    {
        if (!Cidr.TryParse(body.Cidr, out var cidr, out var error))
        {
            errors.Add(new("cidr", error));
            return null;
        }
        if (cidr.Prefix == 0 || cidr.Prefix > cidr.Bits - 2)
        {
            errors.Add(new("cidr", $"an IPv{cidr.Version} subnet's prefix length is 1-{cidr.Bits - 2}: it needs room for hosts"));
            return null;
        }
        var gateway = Gateway(body, cidr, errors);
        var pools = body.AllocationPools is { Count: > 0 } given ? Pools(given, cidr, gateway, errors) : AddressRange.Defaults(cidr, gateway);
        // Stored as parsed: they are written into guests' network configuration.
        var dns = new List<string>();
        foreach (var (text, i) in (body.DnsNameservers ?? []).Select((d, i) => (d, i)))
        {
            if (!IpAddressText.TryParse(text, out var server, out var dnsError))
                errors.Add(new($"dnsNameservers[{i}]", dnsError));
            else if (dns.Contains(server.ToString()))
                errors.Add(new($"dnsNameservers[{i}]", $"{server} is listed twice"));
            else
                dns.Add(server.ToString());
        }
        if (body.DnsNameservers is { Count: > MaxNameservers })
            errors.Add(new("dnsNameservers", $"at most {MaxNameservers} nameservers"));
        return (cidr, gateway, pools, dns);
    }

    /// <summary>Absent: the first host address; null given: no gateway; else a host address of the prefix.</summary>
    private static IPAddress? Gateway(CreateSubnet body, Cidr cidr, List<FieldError> errors)
    {
        if (!body.GatewayGiven)
            return cidr.Address(cidr.FirstHost);
        if (body.GatewayIp is null)
            return null;
        if (HostAddress(body.GatewayIp, cidr) is { } fault)
        {
            errors.Add(new("gatewayIp", fault));
            return null;
        }
        return IPAddress.Parse(body.GatewayIp);
    }

    private static List<AddressRange> Pools(IReadOnlyList<PoolBody> given, Cidr cidr, IPAddress? gateway, List<FieldError> errors)
    {
        var pools = new List<AddressRange>();
        for (var i = 0; i < given.Count; i++)
        {
            var startFault = HostAddress(given[i].Start, cidr);
            var endFault = HostAddress(given[i].End, cidr);
            if (startFault is not null)
                errors.Add(new($"allocationPools[{i}].start", startFault));
            if (endFault is not null)
                errors.Add(new($"allocationPools[{i}].end", endFault));
            if (startFault is not null || endFault is not null)
                continue;
            var pool = new AddressRange(Cidr.Number(IPAddress.Parse(given[i].Start!)), Cidr.Number(IPAddress.Parse(given[i].End!)));
            if (pool.Start > pool.End)
                errors.Add(new($"allocationPools[{i}]", $"start {given[i].Start} is after end {given[i].End}"));
            else if (gateway is not null && pool.Contains(Cidr.Number(gateway)))
                errors.Add(new($"allocationPools[{i}]", $"holds the gateway {gateway}"));
            else if (pools.FindIndex(pool.Overlaps) is var other and >= 0)
                errors.Add(new($"allocationPools[{i}]", $"overlaps allocationPools[{other}]"));
            pools.Add(pool);
        }
        return pools;
    }

    /// <summary>Why an address cannot be a host of the prefix (gateway, pool bound, fixed IP); null when it can.</summary>
    public static string? HostAddress(string? text, Cidr cidr)
    {
        if (!IpAddressText.TryParse(text, out var address, out var error))
            return error;
        if (!cidr.Contains(address))
            return $"{text} is not in {cidr}";
        var n = Cidr.Number(address);
        if (n == cidr.First)
            return $"{text} is the network address of {cidr}";
        if (n == cidr.Last && cidr.Version == 4)
            return $"{text} is the broadcast address of {cidr}";
        return null;
    }

    public static SubnetRecord Record(string id, string projectId, NetworkRecord network, string name, Cidr cidr, IPAddress? gateway, IReadOnlyList<AddressRange> pools,
        IReadOnlyList<string> dns, bool dhcp) =>
        new(id, projectId, network.Id, name, cidr.Version, cidr.ToString(), gateway?.ToString(),
            pools.OrderBy(p => p.Start).Select(p => new PoolRecord(cidr.Address(p.Start).ToString(), cidr.Address(p.End).ToString())).ToList(), dns, dhcp);
}
