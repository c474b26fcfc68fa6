using Isola.Cli;

namespace Isola.Tests.Cli.Client;

/// <summary>The CLI reads --config, and flags given with it still win.</summary>
public sealed class ClientConfigCommandTests
{
    [Fact]
    public async Task A_config_file_gives_the_url_and_token_and_a_flag_overrides_one()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        var config = Path.Join(w.Dir, "config.json");
        await File.WriteAllTextAsync(config, $$"""{ "url": "{{w.Server.Url}}", "token": "{{member}}" }""");

        var (exit, output, error) = await CliRunner.Run("network", "create", "--type", "vxlan", "--config", config, "-f", "value", "-c", "segment", "overlay");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal("5000", output.Trim());
        // The member token from the file may not list projects; the admin token from the flag may.
        Assert.Equal(ExitCodes.Denied, (await CliRunner.Run("project", "list", "--config", config)).Exit);
        (exit, output, _) = await CliRunner.Run("project", "list", "--config", config, "--token", w.AdminToken, "-f", "value", "-c", "name");
        Assert.Equal((ExitCodes.Ok, "tenant-a"), (exit, output.Trim()));
    }

    [Fact]
    public async Task A_token_made_with_the_cli_is_printed_once_and_works()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        await w.Json("project", "create", "tenant-a");
        var (exit, output, _) = await w.Run("token", "create", "--role", "member", "--project", "tenant-a");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("shown this once", output, StringComparison.Ordinal);
        var secret = System.Text.RegularExpressions.Regex.Match(output, @"│ secret\s+│ (\S+)").Groups[1].Value;
        Assert.StartsWith("isola_", secret, StringComparison.Ordinal);
        (exit, output, _) = await w.RunAs(secret, "network", "list", "-f", "json");
        Assert.Equal((ExitCodes.Ok, "[]"), (exit, output.Trim()));
    }
}
