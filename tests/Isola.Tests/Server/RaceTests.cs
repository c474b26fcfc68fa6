using Isola.Domain.Serialization;
using Isola.Store;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server;

/// <summary>
/// Requests that race, through two API server processes' worth of state on one PostgreSQL: each
/// answers what happened to it (201, 204, 404, 409), never a 500.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RaceTests(PostgresServer postgres)
{
    private const int Pairs = 20;

    // Room for every create of a race at once (losers hold their reservation until they lose): no create is refused for want of room.
    private sealed record Two(ApiServer One, ApiServer Other, HttpClient[] Members, HttpClient Admin, string Store) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await One.DisposeAsync();
            await Other.DisposeAsync();
        }
    }

    private async Task<Two> StartAsync(params string[] hosts)
    {
        var store = await postgres.CreateDatabaseAsync();
        var one = await ApiServer.StartAsync(store);
        var admin = one.Client(one.AdminSecret);
        foreach (var name in hosts.Length > 0 ? hosts : ["h1", "h2"])
        {
            var host = new HostBuilder(name).Cores(48).Pages1G(64).Nic(0, "physnet2", 32, ports: 2).Build();
            Assert.Equal(204, (await admin.Send(HttpMethod.Put, $"/v1/hosts/{name}", InventoryDocument.Of(host).ToJson())).Status);
        }
        await admin.Post("/v1/projects", new { name = "t" });
        var secret = (await admin.Post("/v1/tokens", new { role = "member", project = "t" })).Body.Str("secret");
        await admin.Post("/v1/flavors", new
        {
            name = "f", vcpus = 1, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        var other = await ApiServer.StartAsync(store, one.AdminSecret);
        var members = new[] { one.Client(secret), other.Client(secret) };
        Assert.Equal(201, (await members[0].Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        return new Two(one, other, members, admin, store);
    }

    private static string Seen(IEnumerable<(int Status, System.Text.Json.JsonElement Body)> answers) =>
        string.Join(", ", answers.GroupBy(a => a.Status == 201 || a.Status == 204 ? $"{a.Status}" : $"{a.Status} {a.Body.ErrorCode()}")
            .Select(g => $"{g.Key} x{g.Count()}"));

    [Fact]
    public async Task Two_creates_racing_for_one_port_give_one_server_and_one_port_in_use()
    {
        await using var w = await StartAsync();
        for (var i = 0; i < Pairs; i++)
            Assert.Equal(201, (await w.Members[0].Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" })).Status);

        var answers = await Task.WhenAll(Enumerable.Range(0, Pairs).SelectMany(i => new[]
        {
            w.Members[0].Post("/v1/servers", new { name = $"a{i}", flavor = "f", ports = new[] { $"p{i}" } }),
            w.Members[1].Post("/v1/servers", new { name = $"b{i}", flavor = "f", ports = new[] { $"p{i}" } }),
        }));
        for (var i = 0; i < Pairs; i++)
        {
            var pair = new[] { answers[2 * i], answers[2 * i + 1] };
            Assert.True(pair.Count(a => a.Status == 201) == 1, $"pair {i}: {Seen(pair)}");
            var loser = pair.Single(a => a.Status != 201);
            Assert.True((loser.Status, loser.Body.ErrorCode()) == (409, "port-in-use"), $"pair {i}: {Seen(pair)}");
        }
        // The losers left nothing: every port is bound once, and the servers are exactly the winners.
        var (_, servers) = await w.Admin.Get("/v1/servers");
        Assert.Equal(Pairs, servers.GetArrayLength());
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(Pairs, hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task A_port_deleted_while_a_server_is_created_on_it_is_a_conflict_for_one_of_them()
    {
        await using var w = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < Pairs; i++)
            ids.Add((await w.Members[0].Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" })).Body.Str("id"));

        var creates = Enumerable.Range(0, Pairs).Select(i => w.Members[0].Post("/v1/servers", new { name = $"vm{i}", flavor = "f", ports = new[] { ids[i] } })).ToList();
        var deletes = Enumerable.Range(0, Pairs).Select(i => w.Members[1].Delete($"/v1/ports/{ids[i]}")).ToList();
        var created = await Task.WhenAll(creates);
        var deleted = await Task.WhenAll(deletes);
        for (var i = 0; i < Pairs; i++)
        {
            var seen = Seen([created[i], deleted[i]]);
            // Either the server got the port (and the delete is refused: it is bound), or the port went first
            // (and the create finds it gone: 404 when it looked it up, 409 port-gone when it was deleted under the commit).
            var serverWon = created[i].Status == 201 && (deleted[i].Status, deleted[i].Body.ErrorCode()) == (409, "in-use");
            var deleteWon = deleted[i].Status == 204 && (created[i].Status, created[i].Status == 201 ? "" : created[i].Body.ErrorCode()) is (404, "not-found") or (409, "port-gone");
            Assert.True(serverWon || deleteWon, $"pair {i}: {seen}");
        }
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(created.Count(c => c.Status == 201), hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task Parallel_network_creates_each_get_the_next_free_segment()
    {
        await using var w = await StartAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 2 * Pairs).Select(i =>
            w.Members[i % 2].Post("/v1/networks", new { name = $"n{i}", type = "vxlan" })));
        Assert.True(answers.All(a => a.Status == 201), Seen(answers));
        var segments = answers.Select(a => a.Body.GetProperty("segment").GetInt64()).Order().ToList();
        // The lowest free VNIs of the test servers' range 5000-5999, each once.
        Assert.Equal(Enumerable.Range(5000, 2 * Pairs).Select(v => (long)v), segments);
    }

    /// <summary>
    /// Holds the first commit of server one's process just before it commits (its writes done, the host's
    /// row locked) until the test lets it go: what another create does meanwhile happens between that
    /// create's checks and its own commit.
    /// </summary>
    private sealed class HeldCommit : IAsyncDisposable
    {
        private readonly PlacementStore _store;
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;

        public HeldCommit(ApiServer server)
        {
            _store = server.App.Services.GetRequiredService<PlacementStore>();
            _store.BeforeCommit = async () =>
            {
                if (Interlocked.Exchange(ref _held, 1) == 0)
                {
                    _reached.SetResult();
                    await _release.Task.WaitAsync(TimeSpan.FromMinutes(2));
                }
            };
        }

        public Task Reached => _reached.Task.WaitAsync(TimeSpan.FromSeconds(60));

        public void Release() => _release.TrySetResult();

        public ValueTask DisposeAsync()
        {
            Release();
            _store.BeforeCommit = null;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The statement a commit moves its host's generation with (the compare-and-swap a second commit on the host waits at).</summary>
    private const string HostCas = "UPDATE hosts SET generation";

    [Fact]
    public async Task A_port_bound_by_another_server_between_the_checks_and_the_commit_is_409_port_in_use()
    {
        // One host: the loser's commit waits at the host's row the winner holds.
        await using var w = await StartAsync("h1");
        Assert.Equal(201, (await w.Members[0].Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" })).Status);
        var winner = Task.FromResult<(int Status, System.Text.Json.JsonElement Body)>(default);
        await using (var held = new HeldCommit(w.One))
        {
            winner = w.Members[0].Post("/v1/servers", new { name = "winner", flavor = "f", ports = new[] { "p" } });
            await held.Reached;
            // The winner has bound p, not yet committed: the loser's checks find p free, and its commit waits for the host.
            var loser = w.Members[1].Post("/v1/servers", new { name = "loser", flavor = "f", ports = new[] { "p" } });
            await WaitForLockWaitersAsync(w.Store, 1, HostCas);
            held.Release();
            var (status, body) = await loser;
            Assert.True((status, status == 201 ? "" : body.ErrorCode(), status == 201 ? "" : body.ErrorField()) == (409, "port-in-use", "ports"), $"{status} {body}");
        }
        Assert.Equal(201, (await winner).Status);
        // The loser holds nothing: one server, one pinned pCPU, p bound to the winner.
        var (_, servers) = await w.Admin.Get("/v1/servers");
        Assert.Equal(["winner"], servers.EnumerateArray().Select(x => x.Str("name")));
        Assert.Equal(1, (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("pinnedUsed").GetInt32());
        Assert.Equal((await winner).Body.Str("id"), (await w.Members[0].Get("/v1/ports/p")).Body.Str("server"));
    }

    [Fact]
    public async Task A_port_deleted_between_the_checks_and_the_commit_is_409_port_gone()
    {
        await using var w = await StartAsync("h1");
        Assert.Equal(201, (await w.Members[0].Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" })).Status);
        Assert.Equal(201, (await w.Members[0].Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct" })).Status);
        var other = Task.FromResult<(int Status, System.Text.Json.JsonElement Body)>(default);
        await using (var held = new HeldCommit(w.One))
        {
            // Another server's commit holds the host, so the create on p waits at its commit, its checks passed.
            other = w.Members[0].Post("/v1/servers", new { name = "other", flavor = "f", ports = new[] { "q" } });
            await held.Reached;
            var create = w.Members[1].Post("/v1/servers", new { name = "vm", flavor = "f", ports = new[] { "p" } });
            await WaitForLockWaitersAsync(w.Store, 1, HostCas);
            Assert.Equal(204, (await w.Members[0].Delete("/v1/ports/p")).Status);
            held.Release();
            var (status, body) = await create;
            Assert.True((status, status == 201 ? "" : body.ErrorCode(), status == 201 ? "" : body.ErrorField()) == (409, "port-gone", "ports"), $"{status} {body}");
        }
        Assert.Equal(201, (await other).Status);
        var (_, servers) = await w.Admin.Get("/v1/servers");
        Assert.Equal(["other"], servers.EnumerateArray().Select(x => x.Str("name")));
        Assert.Equal(1, (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("pinnedUsed").GetInt32());
        Assert.Equal(["q"], (await w.Members[0].Get("/v1/ports")).Body.EnumerateArray().Select(x => x.Str("name")));
    }

    /// <summary>Makes a resource of a kind; answers the path its DELETE goes to, and its table and id (its row).</summary>
    private static async Task<(string Path, string Table, string Id)> MakeAsync(Two w, string kind)
    {
        async Task<string> Id(HttpClient client, string path, object body)
        {
            var (status, made) = await client.Post(path, body);
            Assert.True(status == 201, $"{path}: {status} {made}");
            return made.Str("id");
        }
        var member = w.Members[0];
        switch (kind)
        {
            case "flavor":
                var flavor = await Id(w.Admin, "/v1/flavors", new { name = "small", vcpus = 1, ram = 512, disk = 1 });
                return ($"/v1/flavors/{flavor}", "flavors", flavor);
            case "network":
                var network = await Id(member, "/v1/networks", new { name = "n", type = "vxlan" });
                return ($"/v1/networks/{network}", "networks", network);
            case "subnet":
                var subnet = await Id(member, "/v1/subnets", new { name = "s", network = "lan", cidr = "10.0.0.0/24" });
                return ($"/v1/subnets/{subnet}", "subnets", subnet);
            case "port":
                var port = await Id(member, "/v1/ports", new { name = "p", network = "lan", vnicType = "direct" });
                return ($"/v1/ports/{port}", "ports", port);
            case "security group":
                var group = await Id(member, "/v1/security-groups", new { name = "g" });
                return ($"/v1/security-groups/{group}", "security_groups", group);
            case "security group rule":
                var rule = await Id(member, "/v1/security-group-rules", new
                {
                    securityGroup = await Id(member, "/v1/security-groups", new { name = "g" }), direction = "ingress", ethertype = "IPv4", protocol = "tcp", portRangeMin = 22, portRangeMax = 22,
                });
                return ($"/v1/security-group-rules/{rule}", "security_group_rules", rule);
            case "qos policy":
                var policy = await Id(member, "/v1/qos-policies", new { name = "q" });
                return ($"/v1/qos-policies/{policy}", "qos_policies", policy);
            case "qos rule":
                var ruled = await Id(member, "/v1/qos-policies", new { name = "q" });
                var qosRule = await Id(member, $"/v1/qos-policies/{ruled}/rules", new { type = "bandwidth-limit", maxKbps = 1000, direction = "egress" });
                return ($"/v1/qos-policies/{ruled}/rules/{qosRule}", "qos_rules", qosRule);
            case "server group":
                var serverGroup = await Id(member, "/v1/server-groups", new { name = "sg", policy = "anti-affinity" });
                return ($"/v1/server-groups/{serverGroup}", "server_groups", serverGroup);
            case "token":
                var token = await Id(w.Admin, "/v1/tokens", new { role = "member", project = "t" });
                return ($"/v1/tokens/{token}", "tokens", token);
            default:
                throw new ArgumentException(kind);
        }
    }

    /// <summary>
    /// Waits until <paramref name="count"/> statements of the test's database (those starting with
    /// <paramref name="statement"/>, when given) wait for a row lock. Generous deadline: a busy machine is slow, not wrong.
    /// </summary>
    private static async Task WaitForLockWaitersAsync(string store, int count, string statement = "")
    {
        await using var c = new Npgsql.NpgsqlConnection(store);
        await c.OpenAsync();
        await using var q = new Npgsql.NpgsqlCommand("""
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND starts_with(ltrim(query), @statement)
            """, c);
        q.Parameters.AddWithValue("statement", statement);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long waiting;
        while ((waiting = (long)(await q.ExecuteScalarAsync())!) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {waiting} of {count} statements came to wait for the lock");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData("flavor")]
    [InlineData("network")]
    [InlineData("subnet")]
    [InlineData("port")]
    [InlineData("security group")]
    [InlineData("security group rule")]
    [InlineData("qos policy")]
    [InlineData("qos rule")]
    [InlineData("server group")]
    [InlineData("token")]
    public async Task Two_deletes_of_one_resource_give_one_204_and_one_404(string kind)
    {
        await using var w = await StartAsync();
        var (path, table, id) = await MakeAsync(w, kind);
        // Both deletes find the resource, then wait on its row (held by the test) — the interleaving a race may give — and go on together.
        await using var holder = new Npgsql.NpgsqlConnection(w.Store);
        await holder.OpenAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand($"SELECT 1 FROM {table} WHERE id = @id FOR UPDATE", holder, tx))
        {
            lockRow.Parameters.AddWithValue("id", id);
            Assert.Equal(1, await lockRow.ExecuteScalarAsync());
        }
        // Flavors and tokens are the admin's to delete (on both servers); the rest their project member's.
        var clients = kind is "flavor" or "token" ? new[] { w.Admin, w.Other.Client(w.One.AdminSecret) } : w.Members;
        var deletes = clients.Select(c => c.Delete(path)).ToList();
        await WaitForLockWaitersAsync(w.Store, 2);
        await tx.RollbackAsync();
        var pair = await Task.WhenAll(deletes);
        Assert.True(pair.Count(a => a.Status == 204) == 1 && pair.Count(a => a.Status == 404 && a.Body.ErrorCode() == "not-found") == 1, $"{kind}: {Seen(pair)}");
        Assert.Equal(404, (await clients[0].Delete(path)).Status);
    }

    [Fact]
    public async Task Two_deletes_of_one_server_give_one_204_and_one_404()
    {
        await using var w = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < Pairs; i++)
        {
            var (status, body) = await w.Members[0].Post("/v1/servers", new { name = $"vm{i}", flavor = "f", networks = new[] { new { network = "lan", vnicType = "direct" } } });
            Assert.True(status == 201, body.ToString());
            ids.Add(body.Str("id"));
        }
        var answers = await Task.WhenAll(ids.SelectMany(id => new[] { w.Members[0].Delete($"/v1/servers/{id}"), w.Members[1].Delete($"/v1/servers/{id}") }));
        for (var i = 0; i < Pairs; i++)
        {
            var pair = new[] { answers[2 * i], answers[2 * i + 1] };
            Assert.True(pair.Count(a => a.Status == 204) == 1 && pair.Count(a => a.Status == 404 && a.Body.ErrorCode() == "not-found") == 1, $"server {i}: {Seen(pair)}");
        }
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(0, hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
        var (_, ports) = await w.Admin.Get("/v1/ports");
        Assert.Equal(0, ports.GetArrayLength());
    }
}
