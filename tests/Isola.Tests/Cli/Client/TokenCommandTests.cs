using Isola.Cli;
using Isola.Tests.Server;

namespace Isola.Tests.Cli.Client;

/// <summary>isola token list|delete against a real API server.</summary>
public sealed class TokenCommandTests
{
    [Fact]
    public async Task Tokens_are_listed_by_project_name_and_deleted_with_the_exit_codes_of_the_docs()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        var tokens = await w.Json("token", "list");
        Assert.Equal(["admin", "member"], tokens.EnumerateArray().Select(t => t.Str("role")));
        Assert.DoesNotContain(member, tokens.GetRawText(), StringComparison.Ordinal);
        var (adminId, memberId) = (tokens[0].Str("id"), tokens[1].Str("id"));

        // The table names the project; a member (who may not list projects) sees its id.
        var (exit, output, _) = await w.Run("token", "list", "-f", "value", "-c", "role", "-c", "project");
        Assert.Equal((ExitCodes.Ok, "admin \nmember tenant-a"), (exit, output.Trim()));
        (exit, output, _) = await w.RunAs(member, "token", "list", "-f", "value", "-c", "id", "-c", "project");
        Assert.Equal($"{memberId} {tokens[1].Str("project")}", output.Trim());

        (exit, _, var error) = await w.Run("token", "delete", adminId);
        Assert.Equal(ExitCodes.Conflict, exit);
        Assert.Contains("code: last-admin-token", error, StringComparison.Ordinal);
        (exit, _, error) = await w.Run("token", "delete", "no-such-token", memberId);
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Contains("token no-such-token", error, StringComparison.Ordinal);
        (exit, _, _) = await w.RunAs(member, "network", "list");
        Assert.Equal(ExitCodes.Denied, exit);
        Assert.Equal(["admin"], (await w.Json("token", "list")).EnumerateArray().Select(t => t.Str("role")));
    }
}
