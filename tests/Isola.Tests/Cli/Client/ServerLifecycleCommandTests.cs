using Isola.Cli;
using Isola.Tests.Server;

namespace Isola.Tests.Cli.Client;

/// <summary>network, port, flavor and server verbs against a real API server, as a tenant would use them.</summary>
public sealed class ServerLifecycleCommandTests
{
    [Fact]
    public async Task A_server_made_with_the_cli_is_placed_shown_and_deleted()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 2);
        var member = await w.MemberOf("tenant-a");

        var (exit, output, error) = await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "101", "lan");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Matches(@"│ name\s+│ lan\s+│", output);
        Assert.Matches(@"│ segment\s+│ 101\s+│", output);
        (exit, _, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--ha", "--vlan-qos", "3", "bond");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.Run("flavor", "create", "--vcpus", "4", "--ram", "4096", "--disk", "20",
            "--property", "hw:cpu_policy=dedicated", "--property", "hw:mem_page_size=1GB", "nfv.medium");
        Assert.True(exit == ExitCodes.Ok, error);
        var flavor = await w.Json("flavor", "show", "nfv.medium");
        Assert.Equal("dedicated", flavor.GetProperty("extraSpecs").Str("hw:cpu_policy"));

        (exit, output, error) = await w.RunAs(member, "server", "create", "--flavor", "nfv.medium", "--port", "bond", "--availability-zone", "az1", "vnf1");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Contains("vnf1", output, StringComparison.Ordinal);
        Assert.Contains("Pinning", output, StringComparison.Ordinal);

        (exit, output, _) = await w.RunAs(member, "server", "show", "vnf1", "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        var server = System.Text.Json.JsonDocument.Parse(output).RootElement;
        Assert.Equal(("BUILD", "nfv.medium", "bond"), (server.Str("status"), server.Str("flavor"), server.GetProperty("ports")[0].Str("name")));
        var host = server.Str("host");
        Assert.Contains(host, new[] { "h1", "h2" });
        var vfs = server.GetProperty("placement").GetProperty("vfs").EnumerateArray().ToList();
        Assert.Equal(2, vfs.Count);

        // The table names the host and each VF the HA port got, by its PCI address.
        (exit, output, _) = await w.RunAs(member, "server", "show", "vnf1");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Matches($@"│ host\s+│ {host}\s+│", output);
        // Its host's agent never reported (registered by an admin): its status is not known.
        Assert.Matches(@"│ hostStatus\s+│ UNKNOWN\s+│", output);
        Assert.All(vfs, vf => Assert.Contains(vf.Str("vf"), output, StringComparison.Ordinal));
        Assert.Matches(@"│ 0\s+│ 0\s+│ 0→\d+ 1→\d+ 2→\d+ 3→\d+", output);

        (exit, output, _) = await w.RunAs(member, "port", "show", "bond", "-f", "value", "-c", "status", "-c", "server", "-c", "vlanQos", "-c", "spoofCheck");
        Assert.Equal(["BOUND", server.Str("id"), "3", "true"], output.Trim().Split('\n'));
        var hosts = await w.Json("host", "list");
        Assert.Equal(4, hosts.EnumerateArray().Single(h => h.Str("name") == host).GetProperty("pinnedUsed").GetInt32());

        (exit, _, error) = await w.RunAs(member, "server", "delete", "vnf1");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.RunAs(member, "server", "show", "vnf1");
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Equal("isola: no server 'vnf1' (code: not-found)", error.Trim());
        (exit, output, _) = await w.RunAs(member, "port", "show", "bond", "-f", "value", "-c", "status");
        Assert.Equal((ExitCodes.Ok, "DOWN"), (exit, output.Trim()));
    }

    [Fact]
    public async Task Lists_show_what_was_made_in_every_format()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        await w.MemberOf("tenant-a");
        foreach (var (name, segment) in new[] { ("lan", "100"), ("wan", "102") })
            await w.Json("network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", segment, "--project", "tenant-a", name);

        var (exit, output, _) = await w.Run("network", "list");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Matches(@"│ lan\s+│ vlan\s+│ physnet2\s+│ 100\s+│ 1500\s+│ false", output);
        Assert.Matches(@"│ wan\s+│ vlan\s+│ physnet2\s+│ 102\s+│", output);
        var list = await w.Json("network", "list");
        Assert.Equal(["lan", "wan"], list.EnumerateArray().Select(n => n.Str("name")).Order());
        (exit, output, _) = await w.Run("network", "list", "-f", "value", "-c", "name", "-c", "segment");
        Assert.Equal(["lan 100", "wan 102"], output.Trim().Split('\n').Order());
        (exit, output, _) = await w.Run("project", "list", "-f", "value", "-c", "name");
        Assert.Equal((ExitCodes.Ok, "tenant-a"), (exit, output.Trim()));
    }

    [Fact]
    public async Task Delete_takes_many_and_reports_each_one_it_could_not()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        await w.MemberOf("tenant-a");
        await w.Json("network", "create", "--type", "vxlan", "--project", "tenant-a", "a");
        await w.Json("network", "create", "--type", "vxlan", "--project", "tenant-a", "b");
        var (exit, _, error) = await w.Run("network", "delete", "a", "missing", "b");
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Contains("isola: network missing: no network 'missing'", error, StringComparison.Ordinal);
        Assert.Contains("1 of 3 networks not deleted", error, StringComparison.Ordinal);
        Assert.Equal(0, (await w.Json("network", "list")).GetArrayLength());
    }

    [Fact]
    public async Task Server_groups_made_with_the_cli_keep_their_members_apart()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 2);
        var member = await w.MemberOf("tenant-a");
        var (exit, _, error) = await w.RunAs(member, "server", "group", "create", "--policy", "anti-affinity", "pair");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.RunAs(member, "server", "group", "create", "--policy", "sideways", "bad");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("field: policy", error, StringComparison.Ordinal);
        await w.Run("flavor", "create", "--vcpus", "2", "--ram", "1024", "--property", "hw:cpu_policy=dedicated", "small");
        var hosts = new List<string>();
        foreach (var name in new[] { "a", "b" })
        {
            (exit, var output, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--group", "pair", "-f", "value", "-c", "host", name);
            Assert.True(exit == ExitCodes.Ok, error);
            hosts.Add(output.Trim());
        }
        Assert.Equal(2, hosts.Distinct().Count());
        (exit, _, _) = await w.RunAs(member, "server", "create", "--flavor", "small", "--group", "pair", "c");
        Assert.Equal(ExitCodes.Conflict, exit);
        (exit, var members, _) = await w.RunAs(member, "server", "group", "show", "pair", "-f", "value", "-c", "members");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal(2, members.Trim().Split(", ").Length);
    }
}
