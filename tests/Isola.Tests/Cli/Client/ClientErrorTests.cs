using System.Net;
using System.Net.Sockets;
using Isola.Cli;

namespace Isola.Tests.Cli.Client;

/// <summary>API errors come out as "isola: message (field: X, code: Y)" on stderr and an exit code that says what kind.</summary>
public sealed class ClientErrorTests
{
    [Theory]
    [InlineData("segment", "network", "create", "--type", "vlan", "--physnet", "physnet2", "--segment", "5000", "--project", "tenant-a", "x")]
    [InlineData("physnet", "network", "create", "--type", "vxlan", "--physnet", "physnet2", "--project", "tenant-a", "x")]
    [InlineData("type", "network", "create", "--type", "geneve", "--project", "tenant-a", "x")]
    [InlineData("mtu", "network", "create", "--type", "vxlan", "--mtu", "20000", "--project", "tenant-a", "x")]
    [InlineData("extraSpecs.hw:cpu_policy", "flavor", "create", "--vcpus", "2", "--ram", "1024", "--property", "hw:cpu_policy=fast", "f")]
    [InlineData("name", "project", "create", "-bad-")]
    public async Task A_rejected_request_exits_2_naming_the_field(string field, params string[] args)
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        await w.MemberOf("tenant-a");
        var (exit, output, error) = await w.Run(args);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Empty(output);
        Assert.StartsWith("isola: ", error, StringComparison.Ordinal);
        Assert.Contains($"(field: {field}, code: invalid)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conflicts_exit_6_with_the_code()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        Assert.Equal(ExitCodes.Ok, (await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "lan")).Exit);
        var (exit, _, error) = await w.RunAs(member, "network", "create", "--type", "vlan", "--physnet", "physnet2", "lan");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("(field: name, code: name-taken)", error, StringComparison.Ordinal);

        await w.Json("flavor", "create", "--vcpus", "16", "--ram", "2048", "--property", "hw:cpu_policy=dedicated", "huge");
        await w.Json("port", "create", "--network", "lan", "--vnic-type", "direct", "--project", "tenant-a", "p");
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "huge", "--port", "p", "big");
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: no-valid-host", error, StringComparison.Ordinal);
        Assert.Contains("dedicated", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_without_the_right_exits_4()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        var (exit, _, error) = await w.RunAs(member, "project", "create", "another");
        Assert.Equal(ExitCodes.Denied, exit);
        Assert.Contains("code: forbidden", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs("isola_not-a-token", "network", "list");
        Assert.Equal(ExitCodes.Denied, exit);
        Assert.Contains("code: unauthorized", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_api_exits_7_naming_the_url()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        listener.Stop();
        var (exit, _, error) = await CliRunner.Run("network", "list", "--url", url, "--token", "t");
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Contains($"cannot reach the Isola API at {url}/ (from --url)", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("network", "list", "--url", "ftp://example", "--token", "t")]
    [InlineData("network", "list", "--url", "http://127.0.0.1:1", "--token", "t", "-c", "nope")]
    [InlineData("flavor", "create", "--vcpus", "2", "--ram", "1024", "--property", "novalue", "f", "--url", "http://127.0.0.1:1")]
    [InlineData("port", "create", "--network", "lan", "--spoof-check", "maybe", "p", "--url", "http://127.0.0.1:1")]
    public async Task A_wrong_command_line_exits_2_before_any_call(params string[] args)
    {
        // Port 1 refuses connections: had a call been made, the exit would be 7.
        var (exit, _, error) = await CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith("isola: ", error, StringComparison.Ordinal);
    }
}
