using Isola.Cli;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Cli.Client;

/// <summary>port create --vnic-type and server create --nic vnic-type=: the word goes to the API as given, and its refusal is a usage error naming the field and the words it takes.</summary>
public sealed class VnicTypeWordTests
{
    private static void AssertNamesEveryAcceptedKind(string error)
    {
        foreach (var kind in VnicKind.All.Where(k => k.AcceptedAtApi))
            Assert.Contains(kind.WireName, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_create_refuses_an_unknown_vnic_type_as_usage_and_takes_a_known_one()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");
        var (exit, _, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "sriov", "p1");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("vnicType: must be", error, StringComparison.Ordinal);
        AssertNamesEveryAcceptedKind(error);
        (exit, _, _) = await w.RunAs(member, "port", "show", "p1");
        Assert.Equal(ExitCodes.NotFound, exit);

        (exit, var output, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "-f", "value", "-c", "vnicType", "p2");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal("direct", output.Trim());
    }

    [Fact]
    public async Task Server_create_refuses_an_unknown_nic_vnic_type_as_usage_and_takes_a_known_one()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");
        await w.Run("flavor", "create", "--vcpus", "1", "--ram", "512", "tiny");
        var (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--nic", "net=lan,vnic-type=Direct", "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("networks[0].vnicType: must be", error, StringComparison.Ordinal);
        AssertNamesEveryAcceptedKind(error);
        (exit, _, _) = await w.RunAs(member, "server", "show", "vm");
        Assert.Equal(ExitCodes.NotFound, exit);

        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--nic", "net=lan,vnic-type=direct", "vm");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, var output, _) = await w.RunAs(member, "port", "show", "vm-nic0", "-f", "value", "-c", "vnicType");
        Assert.Equal((ExitCodes.Ok, "direct"), (exit, output.Trim()));
    }
}
