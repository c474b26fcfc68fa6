using Isola.Cli;

namespace Isola.Tests.Cli.Client;

/// <summary>isola server create --nic: the server makes its ports, and takes them along when it goes.</summary>
public sealed class ServerNicCommandTests
{
    [Fact]
    public async Task A_server_made_with_nics_makes_its_ports()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "100", "lan");
        await w.Run("flavor", "create", "--vcpus", "1", "--ram", "512", "tiny");
        var (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--nic", "vnic-type=direct", "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("net=NETWORK", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "--nic", "net=lan,vnic-type=direct,ha", "vm");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, var output, _) = await w.RunAs(member, "port", "show", "vm-nic0", "-f", "value", "-c", "status");
        Assert.Equal((ExitCodes.Ok, "BOUND"), (exit, output.Trim()));
        await w.RunAs(member, "server", "delete", "vm");
        (exit, _, _) = await w.RunAs(member, "port", "show", "vm-nic0");
        Assert.Equal(ExitCodes.NotFound, exit);
    }
}
