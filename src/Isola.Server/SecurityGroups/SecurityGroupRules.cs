using System.Globalization;
using System.Text.Json;
using Isola.Server.Api;
using Isola.Server.Subnets;
using Isola.Store.Resources;

namespace Isola.Server.SecurityGroups;

public sealed record CreateSecurityGroupRule(
    string? SecurityGroup, string? Direction, string? Ethertype = "IPv4", JsonElement? Protocol = null, int? PortRangeMin = null, int? PortRangeMax = null,
    string? RemoteIpPrefix = null, string? RemoteGroup = null);

/// <summary>Neutron's rules for security group rules, and the rules of a project's default group.</summary>
internal static class SecurityGroupRules
{
    private static readonly Dictionary<string, string> ProtocolNames = new(StringComparer.Ordinal)
    {
        ["1"] = "icmp", ["6"] = "tcp", ["17"] = "udp", ["58"] = "icmpv6", ["ipv6-icmp"] = "icmpv6",
    };

    /// <summary>
    /// A normalised rule (protocol numbers of tcp, udp, icmp and icmpv6 become their names, icmp on
    /// IPv6 is icmpv6, a remote prefix loses its host bits and 0.0.0.0/0 or ::/0 means any), or null
    /// when <paramref name="errors"/> says what is wrong. <paramref name="remoteGroupId"/> is resolved by the caller.
    /// </summary>
    public static SecurityGroupRuleRecord? Check(CreateSecurityGroupRule body, string groupId, string? remoteGroupId, List<FieldError> errors)
    {
        var count = errors.Count;
        if (body.Direction is not ("ingress" or "egress"))
            errors.Add(new("direction", "must be ingress (to the port) or egress (from it)"));
        var version = body.Ethertype switch { "IPv4" => 4, "IPv6" => 6, _ => 0 };
        if (version == 0)
            errors.Add(new("ethertype", "must be IPv4 or IPv6"));
        var protocol = Protocol(body.Protocol, version, errors);
        var (min, max) = (body.PortRangeMin, body.PortRangeMax);
        switch (protocol)
        {
            case "tcp" or "udp":
                if (min is null && max is null)
                    break;
                if (min is null or < 1 or > 65535)
                    errors.Add(new("portRangeMin", $"a {protocol} port range is 1-65535, both ends given"));
                if (max is null or < 1 or > 65535)
                    errors.Add(new("portRangeMax", $"a {protocol} port range is 1-65535, both ends given"));
                else if (min > max)
                    errors.Add(new("portRangeMax", $"must not be below portRangeMin ({min})"));
                break;
            case "icmp" or "icmpv6":
                if (min is < 0 or > 255)
                    errors.Add(new("portRangeMin", $"for {protocol} this is the ICMP type, 0-255"));
                if (max is < 0 or > 255)
                    errors.Add(new("portRangeMax", $"for {protocol} this is the ICMP code, 0-255"));
                else if (max is not null && min is null)
                    errors.Add(new("portRangeMin", "an ICMP code (portRangeMax) needs its type (portRangeMin)"));
                break;
            default:
                if (min is not null || max is not null)
                    errors.Add(new(min is not null ? "portRangeMin" : "portRangeMax", $"a port range is for protocol tcp or udp (type and code for icmp), not {protocol ?? "any protocol"}"));
                break;
        }
        string? prefix = null;
        if (body.RemoteIpPrefix is not null)
        {
            if (!Cidr.TryParse(body.RemoteIpPrefix, out var cidr, out var error, clearHostBits: true))
                errors.Add(new("remoteIpPrefix", error));
            else if (version != 0 && cidr.Version != version)
                errors.Add(new("remoteIpPrefix", $"{body.RemoteIpPrefix} is IPv{cidr.Version}; the rule's ethertype is {body.Ethertype}"));
            else if (cidr.Prefix > 0)
                prefix = cidr.ToString();
        }
        if (body.RemoteIpPrefix is not null && body.RemoteGroup is not null)
            errors.Add(new("remoteGroup", "a rule matches a remote prefix or a remote group, not both"));
        if (errors.Count > count)
            return null;
        return new SecurityGroupRuleRecord(ResourceStore.NewId(), groupId, body.Direction!, body.Ethertype!, protocol, min, max, prefix, remoteGroupId);
    }

    private static string? Protocol(JsonElement? given, int version, List<FieldError> errors)
    {
        string? text = given?.ValueKind switch
        {
            null or JsonValueKind.Null => null,
            JsonValueKind.String => given.Value.GetString(),
            JsonValueKind.Number when given.Value.TryGetInt32(out var n) => n.ToString(CultureInfo.InvariantCulture),
            _ => "?",
        };
        if (text is null or "any")
            return null;
        text = ProtocolNames.GetValueOrDefault(text, text);
        if (text is "tcp" or "udp" or "icmp" or "icmpv6")
        {
            if (text == "icmpv6" && version == 4)
            {
                errors.Add(new("protocol", "icmpv6 is for ethertype IPv6"));
                return null;
            }
            return text == "icmp" && version == 6 ? "icmpv6" : text;
        }
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number <= 255)
            return number.ToString(CultureInfo.InvariantCulture);
        errors.Add(new("protocol", "must be tcp, udp, icmp, icmpv6, a protocol number 0-255, or null (any)"));
        return null;
    }

    /// <summary>Neutron's default group: everything out (IPv4 and IPv6), in only from the group's own members.</summary>
    public static IReadOnlyList<SecurityGroupRuleRecord> Defaults(string groupId) =>
    [
        new(ResourceStore.NewId(), groupId, "egress", "IPv4", null, null, null, null, null),
        new(ResourceStore.NewId(), groupId, "egress", "IPv6", null, null, null, null, null),
        new(ResourceStore.NewId(), groupId, "ingress", "IPv4", null, null, null, null, groupId),
        new(ResourceStore.NewId(), groupId, "ingress", "IPv6", null, null, null, null, groupId),
    ];

    public static object View(SecurityGroupRuleRecord r) => new
    {
        r.Id,
        securityGroup = r.GroupId,
        r.Direction,
        r.Ethertype,
        r.Protocol,
        r.PortRangeMin,
        r.PortRangeMax,
        r.RemoteIpPrefix,
        remoteGroup = r.RemoteGroupId,
    };
}
