using Isola.Cli;

namespace Isola.Tests.Cli.Client;

/// <summary>isola port create --ha-distinct-adapters, and port show saying where an HA port's legs went.</summary>
public sealed class PortHaCommandTests
{
    [Fact]
    public async Task Port_show_says_whether_the_legs_share_a_card_and_a_port_can_demand_two()
    {
        // One host with one dual-port X710: a bond's two legs can only be that card's two ports.
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");
        await w.Run("flavor", "create", "--vcpus", "1", "--ram", "512", "tiny");
        await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--ha", "bond");
        var (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--port", "bond", "vm");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, var output, _) = await w.RunAs(member, "port", "show", "bond", "-f", "value", "-c", "haLegs");
        Assert.Equal((ExitCodes.Ok, "same-adapter"), (exit, output.Trim()));

        (exit, output, error) = await w.RunAs(member, "port", "create", "--network", "lan", "--vnic-type", "direct", "--ha", "--ha-distinct-adapters",
            "-f", "value", "-c", "haDistinctAdapters", "strict");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal("true", output.Trim(), ignoreCase: true);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--port", "strict", "vm2");
        Assert.NotEqual(ExitCodes.Ok, exit);
        Assert.Contains("demands distinct adapters", error, StringComparison.Ordinal);
    }
}
