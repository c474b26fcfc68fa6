using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Coordination;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Server.Supervision;
using Isola.Server.Servers;
using Isola.Store;
using Isola.Store.Lifecycle;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Server.Hosts;

/// <summary>
/// Inventories over HTTP: a bad one is a 400 naming its path and stores nothing, and a bad row
/// already in the store never stops the server, the host list or the scheduler's sync. SQLite and
/// PostgreSQL.
/// </summary>
public abstract class InventorySuite
{
    protected abstract Task<string> NewStoreAsync();

    private static HostBuilder Builder(string name) => new HostBuilder(name).Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4, ports: 2, model: "intel-x710");

    private static JsonNode Inventory(string name) => JsonNode.Parse(InventoryDocument.Of(Builder(name).Build()).ToJson())!;

    private static async Task<HttpClient> HostAgent(ApiWorld w, string host) =>
        w.Server.Client((await w.Admin.Post("/v1/tokens", new { role = "host", host })).Body.Str("secret"));

    private static async Task<string?> StoredJson(ApiServer server, string host) =>
        (await server.App.Services.GetRequiredService<PlacementStore>().HostAsync(host)) is { } h ? InventoryDocument.Of(h.Inventory).ToJson() : null;

    /// <summary>A member creates three dedicated servers: each lands on g1 or g2, the hosts whose inventory is good. Returns the member's client.</summary>
    private static async Task<HttpClient> ThreeServersLandOnTheGoodHostsAsync(ApiServer server, HttpClient admin)
    {
        await admin.Post("/v1/projects", new { name = "t" });
        var member = server.Client((await admin.Post("/v1/tokens", new { role = "member", project = "t" })).Body.Str("secret"));
        await admin.Post("/v1/flavors", new { name = "f", vcpus = 2, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        for (var i = 0; i < 3; i++)
        {
            var (created, placed) = await member.Post("/v1/servers", new { name = $"s{i}", flavor = "f" });
            Assert.Equal(201, created);
            Assert.Contains(placed.Str("host"), new[] { "g1", "g2" });
        }
        return member;
    }

    /// <summary>Every field the error names: <c>field</c>, or each of <c>details</c>.</summary>
    private static IReadOnlyList<string> Fields(JsonElement body) =>
        body.ValueKind != JsonValueKind.Object ? [] : body.GetProperty("error").GetProperty("details").EnumerateArray().Select(d => d.Str("field")).ToList();

    [Fact]
    public async Task The_half_inventory_of_the_issue_is_a_400_and_stores_nothing()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        var agent = await HostAgent(w, "x");
        var noDevices = Inventory("x");
        noDevices["host"]!["devices"] = null;
        var noVfs = Inventory("x");
        noVfs["host"]!["devices"]![0]!["vfs"] = null;
        foreach (var (body, field) in new[]
        {
            ("""{"schemaVersion":1,"host":{"hostname":"x"}}""", "host.cells"),
            (noDevices.ToJsonString(), "host.devices"),
            (noVfs.ToJsonString(), "host.devices[0].vfs"),
        })
        {
            var (status, error) = await agent.Send(HttpMethod.Put, "/v1/hosts/x", body);
            Assert.Equal((400, "invalid"), (status, error.ErrorCode()));
            Assert.Contains(field, Fields(error));
        }
        var (listed, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(200, listed);
        Assert.Equal(["h1", "h2"], hosts.EnumerateArray().Select(h => h.Str("name")));
        var rows = await w.Server.App.Services.GetRequiredService<PlacementStore>().HostRowsAsync("x");
        Assert.Empty(rows.Hosts.Select(h => h.Name).Concat(rows.Unreadable.Select(u => u.Name)));
        Assert.Equal(404, (await w.Admin.Get("/v1/hosts/x")).Status);
        await w.Server.App.Services.GetRequiredService<AgentWatch>().SweepAsync();
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/x", Inventory("x").ToJsonString())).Status);
        Assert.Equal("valid", (await w.Admin.Get("/v1/hosts/x")).Body.Str("inventoryStatus"));
    }

    public static TheoryData<string> Rules() => new(RuleCases.Keys);

    // Each: what to break in h1's inventory, and the path the 400 must name.
    private static readonly Dictionary<string, (Action<JsonNode> Break, string Path)> RuleCases = new()
    {
        ["no CPUs"] = (h => h["cpus"] = new JsonArray(), "host.cpus"),
        ["CPU on a cell that does not exist"] = (h => h["cpus"]![3]!["cell"] = 5, "host.cpus[3].cell"),
        ["CPU in two cells"] = (h => h["cells"]![1]!["cpus"] = h["cells"]![1]!["cpus"]!.GetValue<string>() + ",0", "host.cells[1].cpus"),
        ["duplicate CPU id"] = (h => h["cpus"]![1]!["id"] = h["cpus"]![0]!["id"]!.GetValue<int>(), "host.cpus[1].id"),
        ["duplicate PF address"] = (h => h["devices"]![1]!["address"] = h["devices"]![0]!["address"]!.GetValue<string>(), "host.devices[1].address"),
        ["duplicate VF address"] = (h => h["devices"]![0]!["vfs"]![2]!["address"] = h["devices"]![1]!["vfs"]![0]!["address"]!.GetValue<string>(),
            "host.devices[1].vfs[0].address"),
        ["VF in another PCI domain"] = (h => h["devices"]![0]!["vfs"]![0]!["address"] = "0001:ff:00.0", "host.devices[0].vfs[0].address"),
        ["negative memory"] = (h => h["cells"]![0]!["memTotalKiB"] = -1, "host.cells[0].memTotalKiB"),
        ["negative hugepages"] = (h => h["cells"]![1]!["hugepages"]![0]!["free"] = -1, "host.cells[1].hugepages[0].free"),
        ["hugepage size that is not a size"] = (h => h["cells"]![0]!["hugepages"]![0]!["pageSizeKiB"] = 1000000, "host.cells[0].hugepages[0].pageSizeKiB"),
        ["device on a cell that does not exist"] = (h => h["devices"]![0]!["numaNode"] = 3, "host.devices[0].numaNode"),
        ["hostname not the URL's"] = (h => h["hostname"] = "h2", "host.hostname"),
        ["cpulist that is not one"] = (h => h["cells"]![0]!["cpus"] = "0-x", "host.cells[0].cpus"),
        ["number too big"] = (h => h["cells"]![0]!["id"] = JsonNode.Parse("99999999999"), "host.cells[0].id"),
        ["null item"] = (h => h["cpus"]!.AsArray().Add(null), "host.cpus[16]"),
    };

    [Fact]
    public async Task Each_inventory_rule_is_a_400_naming_its_path_and_changes_nothing()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        var agent = await HostAgent(w, "h1");
        var before = await StoredJson(w.Server, "h1");
        var failures = new List<string>();
        foreach (var (rule, (breakIt, path)) in RuleCases)
        {
            var doc = Inventory("h1");
            breakIt(doc["host"]!);
            var (status, error) = await agent.Send(HttpMethod.Put, "/v1/hosts/h1", doc.ToJsonString());
            if (status != 400 || error.ErrorCode() != "invalid" || !Fields(error).Contains(path))
                failures.Add($"{rule}: {status} {error}");
            if (await StoredJson(w.Server, "h1") != before)
                failures.Add($"{rule}: the stored inventory changed");
        }
        Assert.Empty(failures);

        // -1 is sysfs's "unknown": taken, and stored as null.
        var unknown = Inventory("h1");
        unknown["host"]!["devices"]![1]!["numaNode"] = -1;
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/h1", unknown.ToJsonString())).Status);
        var stored = await w.Server.App.Services.GetRequiredService<PlacementStore>().HostAsync("h1");
        Assert.Null(stored!.Inventory.Devices[1].NumaNode);

        // Past the size limit: 413 before the body is read whole, whatever it holds.
        var huge = Inventory("h1");
        huge["host"]!["warnings"] = new JsonArray(Enumerable.Range(0, 2000)
            .Select(i => (JsonNode)new JsonObject { ["subject"] = $"cpu{i}", ["code"] = "malformed", ["message"] = new string('x', 5000) }).ToArray());
        var (tooLarge, tooLargeError) = await agent.Send(HttpMethod.Put, "/v1/hosts/h1", huge.ToJsonString());
        Assert.Equal((413, "too-large"), (tooLarge, tooLargeError.ErrorCode()));
    }

    /// <summary>
    /// Fields the document may hold as null (docs/formats.md: "|null"), by path without indexes — but
    /// not a PF's <c>netDev</c>: the test's PF is on a physnet, which it is mapped and programmed by.
    /// </summary>
    private static readonly HashSet<string> Nullable =
    [
        .. new[] { "vendorName", "deviceName", "driver", "mac", "linkSpeedMbps", "numaNode", "iommuGroup", "vfDeviceId", "physnet" }.Select(f => $"host.devices[].{f}"),
        .. new[] { "driver", "netDev", "iommuGroup", "state" }.Select(f => $"host.devices[].vfs[].{f}"),
        "host.kernel.irqAffinity", "host.kernel.defaultHugepageSizeKiB", "host.virtualization",
    ];

    /// <summary>Fields a later release added, with defaults: a document from before them lacks them, and that is a usable 204.</summary>
    private static readonly HashSet<string> Optional =
    [
        "host.virtualization", .. new[] { "domainType", "vhostNet", "instancesDirectory", "emulator" }.Select(f => $"host.virtualization.{f}"),
    ];

    /// <summary>
    /// Every path of a good inventory, set to null, to a value of another JSON type, to a number
    /// too big, or removed: never a 5xx; a 400 naming that path (a removed array item may be named
    /// by the rule it breaks elsewhere) that leaves the stored inventory as it was; or, where the
    /// field may be null or an item may go, a 204 after which the host is listed and, for a null,
    /// still takes a server.
    /// </summary>
    [Fact]
    public async Task Every_path_set_to_null_to_another_type_or_removed_is_a_400_naming_it_or_a_usable_204()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        foreach (var other in new[] { "h1", "h2" })
            await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{other}", new { enabled = false });
        var agent = await HostAgent(w, "m1");
        var good = JsonNode.Parse(InventoryDocument.Of(new HostBuilder("m1").Cores(3).Pages1G(4).Nic(0, "physnet2", 2).Build()).ToJson())!;
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/m1", good.ToJsonString())).Status);
        var before = await StoredJson(w.Server, "m1");
        var failures = new List<string>();
        var tried = 0;
        foreach (var (path, mutation, mutated) in Mutations(good))
        {
            tried++;
            var what = $"{mutation} {path}";
            var (status, error) = await agent.Send(HttpMethod.Put, "/v1/hosts/m1", mutated.ToJsonString());
            var mayBeNull = mutation == "null" && Nullable.Contains(IndexesOff(path));
            var itemRemoved = mutation == "remove" && (path.EndsWith(']') || Optional.Contains(IndexesOff(path)));
            if (status == 400)
            {
                if (error.ErrorCode() != "invalid" || !(itemRemoved ? Fields(error).Any(f => f.Length > 0) : Fields(error).Contains(path)) || mayBeNull)
                    failures.Add($"{what}: 400 {error}");
                if (await StoredJson(w.Server, "m1") != before)
                    failures.Add($"{what}: the stored inventory changed");
                continue;
            }
            if (status != 204 || !(mayBeNull || itemRemoved))
            {
                failures.Add($"{what}: {status} {error}");
                continue;
            }
            var (listed, hosts) = await w.Admin.Get("/v1/hosts");
            if (listed != 200 || hosts.EnumerateArray().Single(h => h.Str("name") == "m1").Str("inventoryStatus") != "valid")
                failures.Add($"{what}: 204, then GET /v1/hosts {listed} {hosts}");
            var (placed, server) = await w.Member.Post("/v1/servers", new { name = "probe", flavor = "nfv.small" });
            if (placed == 201)
                Assert.Equal(204, (await w.Member.Delete($"/v1/servers/{server.Str("id")}")).Status);
            else if (mayBeNull || placed != 409)
                failures.Add($"{what}: 204, then a server create {placed} {server}");
            Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/m1", good.ToJsonString())).Status);
        }
        Assert.True(tried > 200, $"only {tried} mutations");
        Assert.Empty(failures);
    }

    private static string IndexesOff(string path) => System.Text.RegularExpressions.Regex.Replace(path, @"\[\d+\]", "[]");

    /// <summary>Each path of the document (below the root) with each mutation of its value, applied to a copy.</summary>
    private static IEnumerable<(string Path, string Mutation, JsonNode Document)> Mutations(JsonNode document)
    {
        foreach (var (path, value) in Leaves(document, ""))
        {
            var kind = value?.GetValueKind() ?? JsonValueKind.Null;
            // A null of the good document is a field that may be null: only another type and removal are news.
            var replacements = kind == JsonValueKind.Null ? new List<(string, JsonNode?)>() : [("null", null)];
            replacements.Add(kind switch
            {
                JsonValueKind.String => ("wrong-type", 12345),
                JsonValueKind.Number => ("wrong-type", "12"),
                JsonValueKind.True or JsonValueKind.False => ("wrong-type", "true"),
                JsonValueKind.Object => ("wrong-type", new JsonArray()),
                JsonValueKind.Array => ("wrong-type", new JsonObject()),
                _ => ("wrong-type", new JsonArray()), // no field that may be null is an array
            });
            if (kind == JsonValueKind.Number)
                replacements.Add(("overflow", JsonNode.Parse("1e300")));
            foreach (var (mutation, replacement) in replacements)
            {
                var copy = document.DeepClone();
                Set(copy, path, replacement);
                yield return (path, mutation, copy);
            }
            var removed = document.DeepClone();
            Remove(removed, path);
            yield return (path, "remove", removed);
        }
    }

    private static IEnumerable<(string Path, JsonNode? Value)> Leaves(JsonNode? node, string path)
    {
        if (path.Length > 0)
            yield return (path, node);
        IEnumerable<(string, JsonNode?)> children = node switch
        {
            JsonObject o => o.Select(p => (path.Length == 0 ? p.Key : $"{path}.{p.Key}", p.Value)),
            JsonArray a => a.Select((v, i) => ($"{path}[{i}]", v)),
            _ => [],
        };
        foreach (var (childPath, child) in children)
        {
            foreach (var leaf in Leaves(child, childPath))
                yield return leaf;
        }
    }

    private static (JsonNode Parent, string? Key, int Index) Locate(JsonNode root, string path)
    {
        var steps = System.Text.RegularExpressions.Regex.Matches(path, @"([^.\[\]]+)|\[(\d+)\]").Select(m => m.Groups[2].Success ? (object)int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : m.Groups[1].Value).ToList();
        var parent = root;
        foreach (var step in steps.SkipLast(1))
            parent = step is int i ? parent[i]! : parent[(string)step]!;
        return steps[^1] is int index ? (parent, null, index) : (parent, (string)steps[^1], -1);
    }

    private static void Set(JsonNode root, string path, JsonNode? value)
    {
        var (parent, key, index) = Locate(root, path);
        if (key is null)
            parent[index] = value;
        else
            parent[key] = value;
    }

    private static void Remove(JsonNode root, string path)
    {
        var (parent, key, index) = Locate(root, path);
        if (key is null)
            parent.AsArray().RemoveAt(index);
        else
            parent.AsObject().Remove(key);
    }

    [Fact]
    public async Task Bad_rows_in_the_store_are_left_out_shown_as_invalid_and_never_stop_the_server()
    {
        var connection = await NewStoreAsync();
        var store = new PlacementStore(StoreConnectionFactory.Parse(connection), TimeProvider.System);
        await store.MigrateAsync();
        foreach (var good in new[] { "g1", "g2" })
            await store.UpsertHostAsync(Builder(good).Build(), zone: "az1");
        var crossed = Inventory("crossed");
        crossed["host"]!["cpus"]![0]!["cell"] = 7;
        var bad = new Dictionary<string, string>
        {
            ["halfway"] = """{"schemaVersion":1,"host":{"hostname":"halfway"}}""",
            ["garbled"] = "not json at all",
            ["crossed"] = crossed.ToJsonString(),
        };
        await using (var c = await store.Factory.OpenAsync())
        {
            foreach (var (name, inventory) in bad)
            {
                await Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO hosts (name, zone, aggregates, generation, enabled, updated_at) VALUES (@name, 'az1', '[]', 0, TRUE, '2025-01-01T00:00:00Z')",
                    new { name });
                await Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO host_inventories (host, inventory) VALUES (@name, @inventory)", new { name, inventory });
            }
        }

        // It starts, and lists every host: the bad ones as such, with the reason.
        await using var server = await ApiServer.StartAsync(connection);
        var admin = server.Client(server.AdminSecret);
        var (status, hosts) = await admin.Get("/v1/hosts");
        Assert.Equal(200, status);
        var listed = hosts.EnumerateArray().ToDictionary(h => h.Str("name"), h => (Status: h.Str("inventoryStatus"), Problem: h.GetProperty("inventoryProblem").GetString()));
        Assert.Equal(["crossed", "g1", "g2", "garbled", "halfway"], listed.Keys);
        Assert.Equal(("valid", null), listed["g1"]);
        Assert.Equal("invalid", listed["halfway"].Status);
        Assert.Contains("host.cells: required", listed["halfway"].Problem, StringComparison.Ordinal);
        Assert.Contains("not a JSON document", listed["garbled"].Problem, StringComparison.Ordinal);
        Assert.Contains("host.cpus[0].cell", listed["crossed"].Problem, StringComparison.Ordinal);
        Assert.Equal("invalid", (await admin.Get("/v1/hosts/garbled")).Body.Str("inventoryStatus"));
        Assert.Equal(200, (await admin.Send(HttpMethod.Patch, "/v1/hosts/crossed", new { enabled = false })).Status);

        // It places on the good hosts.
        var member = await ThreeServersLandOnTheGoodHostsAsync(server, admin);

        // The sync says each bad host once, then nothing: no error every 5 s.
        var services = server.App.Services;
        var log = new ListLogger<AgentWatch>();
        var watch = new AgentWatch(services.GetRequiredService<LifecycleStore>(), services.GetRequiredService<PlacementService>(), TimeProvider.System, log);
        for (var i = 0; i < 3; i++)
            await watch.SweepAsync();
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal(["crossed", "garbled", "halfway"], log.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => bad.Keys.Single(k => e.Message.StartsWith($"host {k}:", StringComparison.Ordinal))).Order());

        // A second process on the same store starts too; a good registration through the first
        // mends the host for both (the second at its next sync).
        await using var second = await ApiServer.StartAsync(connection, server.AdminSecret);
        var agent = server.Client((await admin.Post("/v1/tokens", new { role = "host", host = "halfway" })).Body.Str("secret"));
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/halfway", Inventory("halfway").ToJsonString())).Status);
        Assert.Equal(("valid", JsonValueKind.Null), ((await admin.Get("/v1/hosts/halfway")).Body.Str("inventoryStatus"),
            (await admin.Get("/v1/hosts/halfway")).Body.GetProperty("inventoryProblem").ValueKind));
        var otherPlacer = second.App.Services.GetRequiredService<PlacementService>().Placer;
        Assert.Contains("halfway", otherPlacer.UnreadableHosts.Keys);
        await otherPlacer.SyncAsync();
        Assert.DoesNotContain("halfway", otherPlacer.UnreadableHosts.Keys);
        Assert.NotNull(otherPlacer.Fleet.Host("halfway"));
        foreach (var good in new[] { "g1", "g2" })
            await admin.Send(HttpMethod.Patch, $"/v1/hosts/{good}", new { enabled = false });
        var (mended, onIt) = await member.Post("/v1/servers", new { name = "mended", flavor = "f" });
        Assert.Equal((201, "halfway"), (mended, onIt.Str("host")));
        await watch.SweepAsync();
        Assert.Equal(3, log.Entries.Count(e => e.Level == LogLevel.Warning));
    }

    /// <summary>
    /// A host registered again with an inventory that lacks what its server holds (a pCPU, its VF,
    /// its hugepages) is refused with 409 inventory-conflict naming the server and each thing, and
    /// nothing is stored; the inventory live discovery reports while the server runs (its pages and
    /// memory in use, so not free) is taken.
    /// </summary>
    [Fact]
    public async Task A_smaller_inventory_under_a_held_placement_is_a_409_naming_what_is_held_and_stores_nothing()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        Assert.Equal(200, (await w.Admin.Send(HttpMethod.Patch, "/v1/hosts/h2", new { enabled = false })).Status);
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        Assert.Equal(201, (await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" })).Status);
        var (created, server) = await w.Member.Post("/v1/servers", new { name = "vm1", flavor = "nfv.small", ports = new[] { "p" } });
        Assert.Equal(201, created);
        var id = server.Str("id");
        var placement = server.GetProperty("placement");
        var cell = placement.GetProperty("cells")[0].GetProperty("hostCell").GetInt32();
        var pcpu = placement.GetProperty("cells")[0].GetProperty("pins")[0].GetProperty("pcpu").GetInt32();
        var vf = placement.GetProperty("vfs")[0].Str("vf");
        var pf = Inventory("h1")["host"]!["devices"]!.AsArray().Select(d => d!["address"]!.GetValue<string>()).ToList().IndexOf(placement.GetProperty("vfs")[0].Str("pf"));
        var agent = await HostAgent(w, "h1");
        var before = await StoredJson(w.Server, "h1");
        async Task<long> Generation() => (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("generation").GetInt64();
        var generation = await Generation();

        void NoCpu(JsonNode h) => h["cpus"]!.AsArray().Single(c => c!["id"]!.GetValue<int>() == pcpu)!["online"] = false;
        void NoVfs(JsonNode h)
        {
            foreach (var d in h["devices"]!.AsArray())
            {
                d!["vfs"] = new JsonArray();
                d["numVfs"] = 0;
            }
        }
        void OnePage(JsonNode h)
        {
            var pages = h["cells"]![cell]!["hugepages"]![0]!;
            pages["total"] = 1;
            pages["free"] = 1;
        }
        var cases = new (string What, Action<JsonNode> Shrink, (string Kind, string Item, string Field)[] Named)[]
        {
            ("fewer CPUs", NoCpu, [("pcpu", $"{pcpu}", "host.cpus")]),
            ("fewer VFs", NoVfs, [("vf", vf, $"host.devices[{pf}].vfs")]),
            ("fewer pages", OnePage, [("hugepages", $"cell {cell} 1G", $"host.cells[{cell}].hugepages")]),
            ("all three", h => { NoCpu(h); NoVfs(h); OnePage(h); }, [("pcpu", $"{pcpu}", "host.cpus"), ("vf", vf, $"host.devices[{pf}].vfs"), ("hugepages", $"cell {cell} 1G", $"host.cells[{cell}].hugepages")]),
        };
        var failures = new List<string>();
        foreach (var (what, shrink, named) in cases)
        {
            var doc = Inventory("h1");
            shrink(doc["host"]!);
            var (status, error) = await agent.Send(HttpMethod.Put, "/v1/hosts/h1", doc.ToJsonString());
            if (status != 409 || error.ErrorCode() != "inventory-conflict")
            {
                failures.Add($"{what}: {status} {error}");
                continue;
            }
            var message = error.GetProperty("error").Str("message");
            var held = error.GetProperty("error").GetProperty("extra").GetProperty("held").EnumerateArray()
                .Select(x => (Kind: x.Str("kind"), Item: x.Str("item"), Servers: x.GetProperty("servers").EnumerateArray().Select(v => v.GetString()).ToList())).ToList();
            foreach (var (kind, item, field) in named)
            {
                if (!held.Any(x => x.Kind == kind && x.Item.Contains(item, StringComparison.Ordinal) && x.Servers.SequenceEqual([id])))
                    failures.Add($"{what}: {kind} {item} of {id} not in {error}");
                if (!Fields(error).Contains(field))
                    failures.Add($"{what}: no detail for {field} in {error}");
            }
            if (held.Count != named.Length || !message.Contains($"server vm1 ({id})", StringComparison.Ordinal))
                failures.Add($"{what}: {error}");
            if (await StoredJson(w.Server, "h1") != before || await Generation() != generation)
                failures.Add($"{what}: something was stored");
        }
        Assert.Empty(failures);

        // What discovery says while vm1 runs: its hugepages and memory are in use, not free. The host has them all the same.
        var live = Inventory("h1");
        foreach (var c in live["host"]!["cells"]!.AsArray())
        {
            c!["memFreeKiB"] = 1024;
            c["hugepages"]![0]!["free"] = 0;
        }
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/h1", live.ToJsonString())).Status);
        Assert.Equal(generation + 1, await Generation());
        Assert.Equal("valid", (await w.Admin.Get("/v1/hosts/h1")).Body.Str("inventoryStatus"));
        Assert.Equal(204, (await w.Member.Delete($"/v1/servers/{id}")).Status);
    }

    /// <summary>
    /// A store that already holds a placement its host's inventory row no longer fits (written before
    /// the check, or by hand): the server starts, lists that host invalid with the reason, places on the
    /// others, and takes the host back once the server that did not fit is gone.
    /// </summary>
    [Fact]
    public async Task A_stored_placement_that_no_longer_fits_leaves_its_host_invalid_and_the_rest_running()
    {
        var connection = await NewStoreAsync();
        var store = new PlacementStore(StoreConnectionFactory.Parse(connection), TimeProvider.System);
        await store.MigrateAsync();
        Assert.Empty(await store.UpsertHostAsync(Builder("shrunk").Build(), zone: "az1"));
        var held = (await (await StorePlacer.LoadAsync(store)).PlaceAsync("s-held", "p1", Request("held", Dedicated(2, 2048), Direct("p")))).Placement!;
        foreach (var good in new[] { "g1", "g2" })
            Assert.Empty(await store.UpsertHostAsync(Builder(good).Build(), zone: "az1"));
        var shrunk = Inventory("shrunk");
        foreach (var d in shrunk["host"]!["devices"]!.AsArray())
        {
            d!["vfs"] = new JsonArray();
            d["numVfs"] = 0;
        }
        await using (var c = await store.Factory.OpenAsync())
            await Dapper.SqlMapper.ExecuteAsync(c, "UPDATE host_inventories SET inventory = @inventory WHERE host = 'shrunk'", new { inventory = shrunk.ToJsonString() });

        await using var server = await ApiServer.StartAsync(connection);
        var admin = server.Client(server.AdminSecret);
        var (status, hosts) = await admin.Get("/v1/hosts");
        Assert.Equal(200, status);
        var listed = hosts.EnumerateArray().ToDictionary(h => h.Str("name"), h => (Status: h.Str("inventoryStatus"), Problem: h.GetProperty("inventoryProblem").GetString()));
        Assert.Equal(["g1", "g2", "shrunk"], listed.Keys);
        Assert.Equal(("valid", null), listed["g1"]);
        Assert.Equal("invalid", listed["shrunk"].Status);
        Assert.Contains("does not fit", listed["shrunk"].Problem, StringComparison.Ordinal);
        Assert.Contains(held.Vfs[0].Vf.ToString(), listed["shrunk"].Problem, StringComparison.Ordinal);

        var member = await ThreeServersLandOnTheGoodHostsAsync(server, admin);
        var services = server.App.Services;
        var log = new ListLogger<AgentWatch>();
        var watch = new AgentWatch(services.GetRequiredService<LifecycleStore>(), services.GetRequiredService<PlacementService>(), TimeProvider.System, log);
        await watch.SweepAsync();
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("host shrunk:", StringComparison.Ordinal));

        // The server that did not fit goes: the host fits its inventory again.
        Assert.Equal(204, (await admin.Delete("/v1/servers/s-held")).Status);
        Assert.Equal(("valid", JsonValueKind.Null), ((await admin.Get("/v1/hosts/shrunk")).Body.Str("inventoryStatus"),
            (await admin.Get("/v1/hosts/shrunk")).Body.GetProperty("inventoryProblem").ValueKind));
        Assert.Null(services.GetRequiredService<PlacementService>().Fleet.Host("shrunk")!.Unusable);
    }
}

/// <summary>A logger that keeps what it is told.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
                return [.. _entries];
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
            _entries.Add((logLevel, formatter(state, exception)));
    }
}

public sealed class SqliteInventoryTests : InventorySuite, IDisposable
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
public sealed class PostgresInventoryTests(PostgresServer server) : InventorySuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
