using System.Text.Json;
using Isola.Cli;
using Isola.Tests.Server;

namespace Isola.Tests.Cli.Client;

/// <summary>subnet, port --fixed-ip/--qos-policy/--security-group, network qos and security group verbs against a real API server.</summary>
public sealed class NetResourceCommandTests
{
    private static async Task<JsonElement> JsonAs(ClientWorld w, string token, params string[] args)
    {
        var (exit, output, error) = await w.RunAs(token, [.. args, "-f", "json"]);
        Assert.True(exit == ExitCodes.Ok, $"isola {string.Join(' ', args)} exited {exit}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static string[] Ips(JsonElement port) => port.GetProperty("fixedIps").EnumerateArray().Select(ip => ip.Str("ipAddress")).ToArray();

    [Fact]
    public async Task Ports_get_the_fixed_ip_asked_for_and_the_lowest_free_one_otherwise()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        await JsonAs(w, member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");
        await JsonAs(w, member, "network", "create", "--type", "vxlan", "wan");

        var (exit, output, error) = await w.RunAs(member, "subnet", "create", "--network", "lan", "--subnet-range", "10.0.0.0/24",
            "--allocation-pool", "start=10.0.0.2,end=10.0.0.99", "--dns-nameserver", "10.0.0.53", "--dns-nameserver", "10.0.0.54", "sub1");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Matches(@"│ gatewayIp\s+│ 10\.0\.0\.1\s+│", output);
        Assert.Matches(@"│ allocationPools\s+│ 10\.0\.0\.2-10\.0\.0\.99\s+│", output);
        Assert.Matches(@"│ dnsNameservers\s+│ 10\.0\.0\.53, 10\.0\.0\.54\s+│", output);
        var sub1 = await JsonAs(w, member, "subnet", "show", "sub1");
        Assert.Equal((4, "10.0.0.0/24", true), (sub1.GetProperty("ipVersion").GetInt32(), sub1.Str("cidr"), sub1.GetProperty("enableDhcp").GetBoolean()));
        var other = await JsonAs(w, member, "subnet", "create", "--network", "wan", "--subnet-range", "192.168.0.0/24", "--gateway", "none", "--no-dhcp", "sub2");
        Assert.Equal((JsonValueKind.Null, false), (other.GetProperty("gatewayIp").ValueKind, other.GetProperty("enableDhcp").GetBoolean()));

        // --network takes a name: the API filters by id, the client looks it up.
        (exit, output, _) = await w.RunAs(member, "subnet", "list", "--network", "lan", "-f", "value", "-c", "name", "-c", "cidr");
        Assert.Equal((ExitCodes.Ok, "sub1 10.0.0.0/24"), (exit, output.Trim()));
        (exit, output, _) = await w.RunAs(member, "subnet", "list", "-f", "value", "-c", "name");
        Assert.Equal(["sub1", "sub2"], output.Trim().Split('\n').Order());

        var fixedPort = await JsonAs(w, member, "port", "create", "--network", "lan", "--fixed-ip", "subnet=sub1,ip-address=10.0.0.50", "p1");
        Assert.Equal(["10.0.0.50"], Ips(fixedPort));
        var shown = await JsonAs(w, member, "port", "show", "p1");
        Assert.Equal(["10.0.0.50"], Ips(shown));
        Assert.Equal(sub1.Str("id"), shown.GetProperty("fixedIps")[0].Str("subnet"));
        Assert.Equal(["10.0.0.50/24"], shown.GetProperty("spec").GetProperty("addresses").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("10.0.0.1", shown.GetProperty("spec").Str("gateway"));

        Assert.Equal(["10.0.0.2"], Ips(await JsonAs(w, member, "port", "create", "--network", "lan", "p2")));
        Assert.Equal(["10.0.0.3"], Ips(await JsonAs(w, member, "port", "create", "--network", "lan", "--fixed-ip", "subnet=sub1", "p3")));
        Assert.Empty(Ips(await JsonAs(w, member, "port", "create", "--network", "lan", "--no-fixed-ip", "p4")));

        // The table names the subnet of each address.
        (exit, output, _) = await w.RunAs(member, "port", "show", "p1");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Matches(@"│ fixedIps\s+│ 10\.0\.0\.50 \(sub1\)\s+│", output);
        (exit, output, _) = await w.RunAs(member, "port", "list", "-f", "value", "-c", "name", "-c", "fixedIps");
        Assert.Contains("p2 10.0.0.2 (sub1)", output.Split('\n'));

        (exit, _, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--fixed-ip", "ip-address=10.0.0.50", "p5");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("(field: fixedIps[0].ipAddress, code: ip-in-use)", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "subnet", "delete", "sub1");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: in-use", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "subnet", "delete", "sub2");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Single((await JsonAs(w, member, "subnet", "list")).EnumerateArray());
    }

    [Theory]
    [InlineData("(field: cidr, code: invalid)", "--subnet-range", "10.0.0.1/24")]
    [InlineData("(field: cidr, code: invalid)", "--subnet-range", "10.0.0.0/33")]
    [InlineData("(field: gatewayIp, code: invalid)", "--subnet-range", "10.0.0.0/24", "--gateway", "10.0.1.1")]
    [InlineData("(field: allocationPools[0].end, code: invalid)", "--subnet-range", "10.0.0.0/24", "--allocation-pool", "start=10.0.0.5,end=10.0.0.255")]
    [InlineData("--allocation-pool: 'start=10.0.0.5' needs start=... and end=...", "--subnet-range", "10.0.0.0/24", "--allocation-pool", "start=10.0.0.5")]
    public async Task A_bad_subnet_exits_2_naming_the_field(string says, params string[] args)
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        await JsonAs(w, member, "network", "create", "--type", "vxlan", "lan");
        var (exit, output, error) = await w.RunAs(member, ["subnet", "create", "--network", "lan", .. args, "s"]);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Empty(output);
        Assert.Contains(says, error, StringComparison.Ordinal);
        Assert.Empty((await JsonAs(w, member, "subnet", "list")).EnumerateArray());
    }

    [Theory]
    [InlineData("--fixed-ip: no key 'ip'", "--fixed-ip", "ip=10.0.0.5")]
    [InlineData("--fixed-ip and --no-fixed-ip", "--fixed-ip", "subnet=s", "--no-fixed-ip")]
    [InlineData("--security-group and --no-security-group", "--security-group", "default", "--no-security-group")]
    public async Task A_bad_port_option_exits_2_before_any_call(string says, params string[] args)
    {
        var (exit, _, error) = await CliRunner.Run(["port", "create", "--network", "lan", .. args, "--url", "http://127.0.0.1:9", "p"]);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains(says, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_egress_bandwidth_limit_becomes_a_direct_ports_vf_rate_and_an_ingress_one_is_refused()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        await JsonAs(w, member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");

        var policy = await JsonAs(w, member, "network", "qos", "policy", "create", "--description", "100 Mbit/s out", "cap");
        Assert.Equal(("cap", "100 Mbit/s out", false), (policy.Str("name"), policy.Str("description"), policy.GetProperty("shared").GetBoolean()));
        var rule = await JsonAs(w, member, "network", "qos", "rule", "create", "--type", "bandwidth-limit", "--max-kbps", "100000", "--max-burst-kbits", "8000", "--egress", "cap");
        Assert.Equal(("bandwidth-limit", "egress", 100000L, 8000L),
            (rule.Str("type"), rule.Str("direction"), rule.GetProperty("maxKbps").GetInt64(), rule.GetProperty("maxBurstKbps").GetInt64()));
        var (exit, output, error) = await w.RunAs(member, "network", "qos", "policy", "show", "cap");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Matches(@"│ rules\s+│ bandwidth-limit egress 100000 kbps \(burst 8000 kbits\)\s+│", output);
        Assert.Contains(rule.Str("id"), output, StringComparison.Ordinal);

        var port = await JsonAs(w, member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--qos-policy", "cap", "vf1");
        Assert.Equal(policy.Str("id"), port.Str("qosPolicy"));
        port = await JsonAs(w, member, "port", "show", "vf1");
        Assert.Equal(100, port.GetProperty("spec").GetProperty("maxTxRateMbps").GetInt32());
        (exit, output, _) = await w.RunAs(member, "port", "show", "vf1", "-f", "value", "-c", "qosPolicy", "-c", "maxTxRateMbps", "-c", "securityGroups");
        Assert.Equal((ExitCodes.Ok, "cap\n100\n\n"), (exit, output.ReplaceLineEndings("\n")));

        // The policy's rules made the VF's rate: they stay while a port uses it.
        (exit, _, error) = await w.RunAs(member, "network", "qos", "rule", "delete", "cap", rule.Str("id"));
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: in-use", error, StringComparison.Ordinal);

        await JsonAs(w, member, "network", "qos", "policy", "create", "in");
        await JsonAs(w, member, "network", "qos", "rule", "create", "--type", "bandwidth-limit", "--max-kbps", "1000", "--ingress", "in");
        (exit, output, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--qos-policy", "in", "vf2");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Empty(output);
        Assert.Contains("(field: qosPolicy, code: invalid)", error, StringComparison.Ordinal);
        (exit, _, _) = await w.RunAs(member, "port", "show", "vf2");
        Assert.Equal(ExitCodes.NotFound, exit);

        // The rule list and delete work on a policy no port uses.
        var mark = await JsonAs(w, member, "network", "qos", "rule", "create", "--type", "dscp-marking", "--dscp-mark", "46", "in");
        Assert.Equal((46, JsonValueKind.Null), (mark.GetProperty("dscpMark").GetInt32(), mark.GetProperty("direction").ValueKind));
        (exit, output, _) = await w.RunAs(member, "network", "qos", "rule", "list", "in", "-f", "value", "-c", "type", "-c", "direction");
        Assert.Equal(["bandwidth-limit ingress", "dscp-marking "], output.TrimEnd('\n').Split('\n').Order());
        (exit, _, error) = await w.RunAs(member, "network", "qos", "rule", "delete", "in", mark.Str("id"));
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Single((await JsonAs(w, member, "network", "qos", "rule", "list", "in")).EnumerateArray());
        (exit, _, error) = await w.RunAs(member, "network", "qos", "rule", "create", "--type", "minimum-bandwidth", "--min-kbps", "10", "--egress", "--ingress", "in");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--egress and --ingress", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "network", "qos", "rule", "create", "--type", "bandwidth-limit", "in");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("(field: maxKbps, code: invalid)", error, StringComparison.Ordinal);

        (exit, output, _) = await w.RunAs(member, "network", "qos", "policy", "list", "-f", "value", "-c", "name");
        Assert.Equal(["cap", "in"], output.Trim().Split('\n').Order());
        (exit, _, error) = await w.RunAs(member, "network", "qos", "policy", "delete", "in");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, _) = await w.RunAs(member, "network", "qos", "policy", "delete", "cap");
        Assert.Equal(ExitCodes.Conflict, exit);
    }

    [Fact]
    public async Task Security_group_rules_are_made_listed_and_deleted_and_groups_stay_off_sriov_ports()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        await JsonAs(w, member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");

        var group = await JsonAs(w, member, "security", "group", "create", "--description", "web servers", "web");
        Assert.Empty(group.GetProperty("rules").EnumerateArray());
        var ssh = await JsonAs(w, member, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22:23", "--remote-ip", "10.1.2.3/8", "web");
        Assert.Equal((group.Str("id"), "ingress", "IPv4", "tcp", 22, 23, "10.0.0.0/8"),
            (ssh.Str("securityGroup"), ssh.Str("direction"), ssh.Str("ethertype"), ssh.Str("protocol"),
             ssh.GetProperty("portRangeMin").GetInt32(), ssh.GetProperty("portRangeMax").GetInt32(), ssh.Str("remoteIpPrefix")));
        var http = await JsonAs(w, member, "security", "group", "rule", "create", "--protocol", "6", "--dst-port", "80", "--egress", "--remote-ip", "fd00::/8", "web");
        Assert.Equal(("egress", "IPv6", "tcp", 80, 80),
            (http.Str("direction"), http.Str("ethertype"), http.Str("protocol"), http.GetProperty("portRangeMin").GetInt32(), http.GetProperty("portRangeMax").GetInt32()));
        var fromDefault = await JsonAs(w, member, "security", "group", "rule", "create", "--protocol", "icmp", "--icmp-type", "8", "--remote-group", "default", "web");
        Assert.Equal(8, fromDefault.GetProperty("portRangeMin").GetInt32());

        var (exit, output, error) = await w.RunAs(member, "security", "group", "rule", "list", "web", "-f", "value", "-c", "id");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal(new[] { ssh.Str("id"), http.Str("id"), fromDefault.Str("id") }.Order(), output.Trim().Split('\n').Order());
        (exit, output, _) = await w.RunAs(member, "security", "group", "show", "web");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Matches(@"│ \S+\s+│ ingress\s+│ IPv4\s+│ tcp\s+│ 22:23\s+│ 10\.0\.0\.0/8\s+│ -\s+│", output);
        Assert.Matches(@"│ ingress\s+│ IPv4\s+│ icmp\s+│ 8\s+│ -\s+│ default\s+│", output);

        (exit, _, error) = await w.RunAs(member, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22:23", "--remote-ip", "10.0.0.0/8", "web");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: duplicate-rule", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "security", "group", "rule", "create", "--remote-ip", "10.0.0.0/8", "--remote-group", "default", "web");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("(field: remoteGroup, code: invalid)", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22-23", "web");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--dst-port: '22-23' is not PORT or PORT:PORT", error, StringComparison.Ordinal);

        (exit, _, error) = await w.RunAs(member, "security", "group", "rule", "delete", http.Str("id"));
        Assert.True(exit == ExitCodes.Ok, error);
        var left = await JsonAs(w, member, "security", "group", "rule", "list", "web");
        Assert.Equal(new[] { ssh.Str("id"), fromDefault.Str("id") }.Order(), left.EnumerateArray().Select(r => r.Str("id")).Order());
        // Without a group: every rule the project has, the default group's four among them.
        Assert.Equal(6, (await JsonAs(w, member, "security", "group", "rule", "list")).GetArrayLength());

        // Groups filter normal ports; a VF bypasses the host's firewall.
        var normal = await JsonAs(w, member, "port", "create", "--network", "lan", "--security-group", "web", "vm1");
        Assert.Equal([group.Str("id")], normal.GetProperty("securityGroups").EnumerateArray().Select(g => g.GetString()));
        (exit, output, _) = await w.RunAs(member, "port", "show", "vm1", "-f", "value", "-c", "securityGroups", "-c", "portSecurityEnabled");
        Assert.Equal((ExitCodes.Ok, "web\ntrue\n"), (exit, output.ReplaceLineEndings("\n")));
        var bare = await JsonAs(w, member, "port", "create", "--network", "lan", "--no-security-group", "vm2");
        Assert.Empty(bare.GetProperty("securityGroups").EnumerateArray());
        var open = await JsonAs(w, member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--disable-port-security", "vf0");
        Assert.Equal((false, false), (open.GetProperty("portSecurityEnabled").GetBoolean(), open.GetProperty("spec").GetProperty("spoofCheck").GetBoolean()));

        (exit, output, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--security-group", "web", "vf1");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Empty(output);
        Assert.Contains("(field: securityGroups, code: invalid)", error, StringComparison.Ordinal);
        (exit, _, _) = await w.RunAs(member, "port", "show", "vf1");
        Assert.Equal(ExitCodes.NotFound, exit);

        (exit, _, error) = await w.RunAs(member, "security", "group", "delete", "web");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: in-use", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "security", "group", "delete", "default");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: default-group", error, StringComparison.Ordinal);
        (exit, output, _) = await w.RunAs(member, "security", "group", "list", "-f", "value", "-c", "name");
        Assert.Equal(["default", "web"], output.Trim().Split('\n').Order());
    }
}
