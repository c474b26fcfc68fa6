using Isola.Cli;
using Isola.Tests.Server;

namespace Isola.Tests.Cli.Client;

/// <summary>isola host list|show|set against a real API server.</summary>
public sealed class HostCommandTests
{
    [Fact]
    public async Task A_host_disabled_with_the_cli_takes_no_new_servers()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var host = (await w.Json("host", "list"))[0].Str("name");
        var (exit, _, error) = await w.Run("host", "set", host);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--disable or --enable", error, StringComparison.Ordinal);
        (exit, _, error) = await w.Run("host", "set", "--disable", "--disable-reason", "firmware", host);
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, var output, _) = await w.Run("host", "show", host, "-f", "value", "-c", "enabled", "-c", "disabledReason");
        Assert.Equal(["false", "firmware"], output.Trim().Split('\n'));
        await w.Run("flavor", "create", "--vcpus", "1", "--ram", "512", "tiny");
        var member = await w.MemberOf("tenant-a");
        (exit, _, _) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "vm");
        Assert.Equal(ExitCodes.Conflict, exit);
        (exit, _, error) = await w.Run("host", "set", "--enable", host);
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "tiny", "vm");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, _) = await w.RunAs(member, "host", "set", "--disable", host);
        Assert.Equal(ExitCodes.Denied, exit);
    }
}
