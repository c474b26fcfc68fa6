using Dapper;
using Isola.Store;
using Isola.Tests.Server;

namespace Isola.Tests.Cli.Client;

/// <summary>The list verbs' --limit, --marker and filter flags, and reading every page of a long list.</summary>
public sealed class ListCommandTests
{
    [Fact]
    public async Task A_list_longer_than_a_page_is_read_whole_and_limit_shows_one_page()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        // More projects than the client's page: it must follow the API's Link header to see them all.
        await using (var c = await StoreConnectionFactory.Sqlite(Path.Join(w.Dir, "isola.db")).OpenAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            for (var i = 0; i < 1105; i++)
                await c.ExecuteAsync("INSERT INTO projects (id, name, created_at) VALUES (@id, @name, @at)",
                    new { id = $"p{i:D4}", name = $"project-{i:D4}", at = DateTimeOffset.UnixEpoch.AddSeconds(i).ToString("O") }, tx);
            await tx.CommitAsync();
        }
        var all = await w.Json("project", "list");
        Assert.Equal(1105, all.GetArrayLength());
        Assert.Equal(Enumerable.Range(0, 1105).Select(i => $"project-{i:D4}"), all.EnumerateArray().Select(p => p.Str("name")));

        var (exit, output, error) = await w.Run("project", "list", "--limit", "2", "--marker", "p0010", "-f", "value", "-c", "name");
        Assert.Equal(0, exit);
        Assert.Equal(["project-0011", "project-0012"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--marker p0012", error, StringComparison.Ordinal);
        // The rest after a marker, without a limit: every page of it, and no "more" line.
        var rest = await w.Json("project", "list", "--marker", "p0100");
        Assert.Equal(1004, rest.GetArrayLength());
        (exit, _, error) = await w.Run("project", "list", "--name", "project-0007", "-f", "value", "-c", "id");
        Assert.Equal((0, ""), (exit, error));
        // Wrong values: the client's own check for --limit, the API's (exit 2, naming the field) for a marker.
        (exit, _, error) = await w.Run("project", "list", "--limit", "0");
        Assert.Equal(2, exit);
        Assert.Contains("--limit", error, StringComparison.Ordinal);
        (exit, _, error) = await w.Run("network", "list", "--marker", "nope");
        Assert.Equal(2, exit);
        Assert.Contains("field: marker", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_port_and_host_list_flags_filter_in_the_table_and_in_json()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 2);
        Assert.Equal(0, (await w.Run("project", "create", "demo")).Exit);
        Assert.Equal(0, (await w.Run("flavor", "create", "--vcpus", "1", "--ram", "512", "--disk", "1", "tiny")).Exit);
        Assert.Equal(0, (await w.Run("network", "create", "--type", "vxlan", "--project", "demo", "int")).Exit);
        foreach (var name in new[] { "web-1", "web-2", "db" })
        {
            var (exit, _, error) = await w.Run("server", "create", "--flavor", "tiny", "--nic", "net=int", "--project", "demo", name);
            Assert.True(exit == 0, error);
        }
        var web = await w.Json("server", "list", "--name", "web", "--status", "BUILD", "--project", "demo", "--flavor", "tiny");
        Assert.Equal(["web-1", "web-2"], web.EnumerateArray().Select(s => s.Str("name")));
        var (code, table, _) = await w.Run("server", "list", "--name", "db");
        Assert.Equal(0, code);
        Assert.Contains("db", table, StringComparison.Ordinal);
        Assert.DoesNotContain("web-1", table, StringComparison.Ordinal);
        var host = web[0].Str("host");
        var onHost = await w.Json("server", "list", "--host", host);
        Assert.Contains("web-1", onHost.EnumerateArray().Select(s => s.Str("name")));
        Assert.All(onHost.EnumerateArray(), s => Assert.Equal(host, s.Str("host")));
        var one = await w.Json("server", "list", "--limit", "1");
        Assert.Equal(["web-1"], one.EnumerateArray().Select(s => s.Str("name")));

        var ports = await w.Json("port", "list", "--device", "web-2", "--network", "int");
        Assert.Equal(["web-2-nic0"], ports.EnumerateArray().Select(p => p.Str("name")));
        var (bad, _, error2) = await w.Run("server", "list", "--status", "FOO");
        Assert.Equal(2, bad);
        Assert.Contains("field: status", error2, StringComparison.Ordinal);
        Assert.Contains("ACTIVE", error2, StringComparison.Ordinal);

        Assert.Equal(0, (await w.Run("host", "set", "--disable", "h2")).Exit);
        var disabled = await w.Json("host", "list", "--enabled", "false", "--zone", "az1", "--agent", "never-reported");
        Assert.Equal(["h2"], disabled.EnumerateArray().Select(h => h.Str("name")));
    }
}
