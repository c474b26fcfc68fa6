using System.Text.Json;
using Isola.Store;
using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Lists;

/// <summary>Every list's limit, marker, Link header and filters over real HTTP; run on SQLite and on PostgreSQL.</summary>
public abstract class ListSuite
{
    protected abstract Task<string> NewStoreAsync();

    private async Task<ApiWorld> Start() => await ApiWorld.StartAsync(await NewStoreAsync());

    /// <summary>A GET with its answer's Link rel="next" target (null: none).</summary>
    private static async Task<(int Status, JsonElement Body, string? Next)> Page(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        string? next = null;
        if (response.Headers.TryGetValues("Link", out var links))
        {
            var link = Assert.Single(links);
            Assert.EndsWith(">; rel=\"next\"", link, StringComparison.Ordinal);
            next = link[1..link.IndexOf('>', StringComparison.Ordinal)];
        }
        return ((int)response.StatusCode, body, next);
    }

    private static string[] Names(JsonElement list) => list.EnumerateArray().Select(e => e.Str("name")).ToArray();

    [Fact]
    public async Task Pages_follow_the_Link_header_to_the_end_with_every_item_once_while_others_are_made()
    {
        await using var w = await Start();
        var made = new List<string>();
        for (var i = 0; i < 8; i++)
            made.Add((await w.Member.Post("/v1/networks", new { name = $"n{i}", type = "vxlan" })).Body.Str("id"));
        var seen = new List<string>();
        var pages = 0;
        string? path = "/v1/networks?limit=3";
        while (path is not null)
        {
            var (status, body, next) = await Page(w.Member, path);
            Assert.Equal(200, status);
            Assert.Equal(JsonValueKind.Array, body.ValueKind); // lists stay bare arrays
            Assert.InRange(body.GetArrayLength(), 1, 3);
            seen.AddRange(body.EnumerateArray().Select(n => n.Str("id")));
            if (next is not null)
                Assert.Equal($"/v1/networks?limit=3&marker={seen[^1]}", next);
            // Another client makes networks between the pages: none is seen twice, none made before is missed.
            if (pages++ < 3)
                Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = $"late{pages}", type = "vxlan" })).Status);
            path = next;
        }
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.All(made, id => Assert.Single(seen, id));
        Assert.Equal(11, seen.Count);
        // Oldest first, as the whole list is; the last page had no Link; without limit everything comes at once.
        var (_, all, none) = await Page(w.Member, "/v1/networks");
        Assert.Null(none);
        Assert.Equal(seen, all.EnumerateArray().Select(n => n.Str("id")));
        // A filter stays in the next link; a marker with no limit answers the rest.
        var (_, one, more) = await Page(w.Member, "/v1/networks?name=n3&limit=1");
        Assert.Equal(["n3"], Names(one));
        Assert.Null(more);
        var (_, rest, _) = await Page(w.Member, $"/v1/networks?marker={made[5]}");
        Assert.Equal(["n6", "n7", "late1", "late2", "late3"], Names(rest));
        var (_, twoFirst, link) = await Page(w.Member, "/v1/networks?limit=2&name=n1");
        Assert.Null(link);
        Assert.Equal(["n1"], Names(twoFirst));
    }

    [Fact]
    public async Task Bad_limits_markers_filters_and_unknown_parameters_are_400_naming_the_field()
    {
        await using var w = await Start();
        var (_, theirs) = await w.Other.Post("/v1/networks", new { name = "theirs", type = "vxlan" });
        (string Path, string Field, string Says)[] cases =
        [
            ("/v1/networks?limit=0", "limit", "a whole number 1-1000"),
            ("/v1/networks?limit=1001", "limit", "a whole number 1-1000"),
            ("/v1/networks?limit=ten", "limit", "'ten' is not a page size"),
            ("/v1/networks?limit=-1", "limit", "1-1000"),
            ("/v1/networks?limit=1.5", "limit", "1-1000"),
            ("/v1/networks?limit=1&limit=2", "limit", "is given once"),
            ("/v1/networks?marker=", "marker", "is empty"),
            ("/v1/networks?marker=no-such-id", "marker", "no network 'no-such-id' to page after"),
            // Another project's network is no marker for this one (its existence is not revealed).
            ($"/v1/networks?marker={theirs.Str("id")}", "marker", "no network"),
            ("/v1/servers?limit=2&marker=vm", "marker", "no server 'vm'"),
            ("/v1/servers?status=FOO", "status", "'FOO' is not one of BUILD, ACTIVE, SHUTOFF, PAUSED, REBOOT, HARD_REBOOT, REBUILD, RESIZE, VERIFY_RESIZE, REVERT_RESIZE, ERROR"),
            ("/v1/ports?status=UP", "status", "is not one of DOWN, BOUND, ACTIVE, ERROR"),
            ("/v1/images?status=killed", "status", "is not one of queued, active"),
            ("/v1/networks?stauts=ACTIVE", "stauts", "is not a parameter of this list; there are limit, marker, name"),
            ("/v1/subnets?bogus=1", "bogus", "there are limit, marker, name, network"),
            ("/v1/tokens?role=root", "role", "is not one of admin, member, host"),
        ];
        foreach (var (path, field, says) in cases)
        {
            var (status, body) = await w.Member.Get(path);
            Assert.True(status == 400, $"{path}: {status} {body}");
            Assert.Equal(("invalid", field), (body.ErrorCode(), body.ErrorField()));
            Assert.Contains(says, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        // Admin-only lists check theirs the same way.
        foreach (var (path, field) in new[] { ("/v1/hosts?enabled=maybe", "enabled"), ("/v1/hosts?agent=asleep", "agent"), ("/v1/hosts?marker=h9", "marker"),
                     ("/v1/projects?limit=0", "limit"), ("/v1/flavors?marker=x", "marker") })
        {
            var (status, body) = await w.Admin.Get(path);
            Assert.Equal((400, field), (status, body.ErrorField()));
        }
        // Every parameter at fault is named at once.
        var (_, both) = await w.Member.Get("/v1/networks?limit=0&bogus=1");
        Assert.Equal(["bogus", "limit"], both.GetProperty("error").GetProperty("details").EnumerateArray().Select(d => d.Str("field")).Order());
    }

    [Fact]
    public async Task Server_port_host_image_and_name_filters_pick_what_they_name()
    {
        await using var w = await Start();
        var (_, tiny) = await w.Admin.Post("/v1/flavors", new { name = "tiny", vcpus = 1, ram = 512, disk = 1, extraSpecs = new Dictionary<string, string>() });
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "int", type = "vxlan" })).Status);
        Assert.Equal(201, (await w.Other.Post("/v1/networks", new { name = "int", type = "vxlan" })).Status);
        async Task<JsonElement> Server(HttpClient client, string name, string flavor)
        {
            var (status, body) = await client.Post("/v1/servers", new { name, flavor, networks = new[] { new { network = "int" } } });
            Assert.True(status == 201, body.ToString());
            return body;
        }
        var web1 = await Server(w.Member, "web-1", "tiny");
        var web2 = await Server(w.Member, "web-2", "nfv.small");
        var db = await Server(w.Member, "db", "tiny");
        var web3 = await Server(w.Other, "web-3", "tiny");

        async Task<string[]> Listed(HttpClient client, string path)
        {
            var (status, body) = await client.Get(path);
            Assert.True(status == 200, $"{path}: {status} {body}");
            return Names(body);
        }
        Assert.Equal(["web-1", "web-2", "db"], await Listed(w.Member, "/v1/servers"));
        Assert.Equal(["web-1", "web-2"], await Listed(w.Member, "/v1/servers?name=web"));
        Assert.Equal(["web-1", "web-2", "web-3"], await Listed(w.Admin, "/v1/servers?name=eb-"));
        Assert.Equal(["web-1", "db"], await Listed(w.Member, "/v1/servers?flavor=tiny"));
        Assert.Equal(["web-1", "db"], await Listed(w.Member, $"/v1/servers?flavor={tiny.Str("id")}"));
        Assert.Equal(["web-1", "web-2", "db"], await Listed(w.Member, "/v1/servers?status=build")); // matched without case
        Assert.Empty(await Listed(w.Member, "/v1/servers?status=ACTIVE"));
        Assert.Empty(await Listed(w.Member, "/v1/servers?image=cirros"));
        var onH1 = new[] { web1, web2, db }.Where(s => s.Str("host") == "h1").Select(s => s.Str("name")).ToArray();
        Assert.Equal(onH1, await Listed(w.Member, "/v1/servers?host=h1"));
        Assert.Equal(["web-3"], await Listed(w.Admin, "/v1/servers?project=tenant-b"));
        Assert.Equal(["web-1"], await Listed(w.Admin, "/v1/servers?project=tenant-a&name=web&flavor=tiny&limit=1"));
        var (forbidden, _) = await w.Member.Get("/v1/servers?project=tenant-a");
        Assert.Equal(403, forbidden);

        // Ports: by the server they are bound to and by network; a member sees only its own.
        Assert.Equal(["web-1-nic0"], await Listed(w.Member, "/v1/ports?device=web-1"));
        Assert.Equal(["db-nic0"], await Listed(w.Member, $"/v1/ports?device={db.Str("id")}"));
        Assert.Equal(["web-1-nic0", "web-2-nic0", "db-nic0"], await Listed(w.Member, "/v1/ports?network=int&status=BOUND"));
        Assert.Empty(await Listed(w.Member, "/v1/ports?status=ACTIVE"));
        Assert.Equal(["web-3-nic0"], await Listed(w.Other, "/v1/ports?network=int"));
        _ = web3;

        // Hosts: by zone, enabled and agent.
        Assert.Equal(["h1", "h2"], await Listed(w.Admin, "/v1/hosts?zone=az1&agent=never-reported"));
        Assert.Empty(await Listed(w.Admin, "/v1/hosts?zone=az2"));
        Assert.Equal(200, (await w.Admin.Send(HttpMethod.Patch, "/v1/hosts/h2", new { enabled = false })).Status);
        Assert.Equal(["h2"], await Listed(w.Admin, "/v1/hosts?enabled=false"));
        Assert.Equal(["h1"], await Listed(w.Admin, "/v1/hosts?enabled=true"));
        Assert.Equal(["h2"], await Listed(w.Admin, "/v1/hosts?marker=h1"));
        Assert.Empty(await Listed(w.Admin, "/v1/hosts?agent=up"));

        // Images by name and status; flavors, networks and projects by name.
        Assert.Equal(201, (await w.Member.Post("/v1/images", new { name = "cirros", diskFormat = "qcow2" })).Status);
        Assert.Equal(["cirros"], await Listed(w.Member, "/v1/images?status=queued&name=cirros"));
        Assert.Empty(await Listed(w.Member, "/v1/images?status=active"));
        Assert.Equal(["tiny"], await Listed(w.Member, "/v1/flavors?name=tiny"));
        Assert.Equal(["int"], await Listed(w.Member, "/v1/networks?name=int"));
        Assert.Equal(["tenant-b"], await Listed(w.Admin, "/v1/projects?name=tenant-b"));
        Assert.Equal(["default"], await Listed(w.Member, "/v1/security-groups?name=default"));
    }

    [Fact]
    public async Task A_servers_actions_are_paged_by_request_id()
    {
        await using var w = await Start();
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "int", type = "vxlan" })).Status);
        var (_, vm) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", networks = new[] { new { network = "int" } } });
        var (_, all, _) = await Page(w.Member, $"/v1/servers/{vm.Str("id")}/actions");
        var first = all.EnumerateArray().First().Str("requestId");
        Assert.Equal("create", all.EnumerateArray().First().Str("action"));
        var (status, rest, next) = await Page(w.Member, $"/v1/servers/{vm.Str("id")}/actions?marker={first}&limit=5");
        Assert.Equal((200, all.GetArrayLength() - 1, (string?)null), (status, rest.GetArrayLength(), next));
        var (bad, body) = await w.Member.Get($"/v1/servers/{vm.Str("id")}/actions?marker=req-nope");
        Assert.Equal((400, "marker"), (bad, body.ErrorField()));
        Assert.Contains("request id", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}

public sealed class SqliteListTests : ListSuite, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<string> NewStoreAsync() => Task.FromResult(_dir.Sub($"isola-{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresListTests(PostgresServer server) : ListSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
