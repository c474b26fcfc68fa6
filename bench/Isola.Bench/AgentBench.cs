using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Domain.Serialization;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Server;
using Isola.Server.Settings;

namespace Isola.Bench;

/// <summary>
/// The agent: time from POST /v1/servers to ACTIVE through a real agent on a simulated host, then
/// the cost of one reconcile cycle of a host holding N servers (nothing to change: read the host,
/// compare, report). Each server has a VF port on a VLAN network and a virtio port on a VXLAN
/// network (its vhost workers pinned, its flows in the host's simulated Open vSwitch).
/// Usage: agent [--servers 100] [--cycles 20] [--no-ovs]
/// </summary>
internal static class AgentBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var servers = BenchArgs.Int(args, "--servers", 100);
        var cycles = BenchArgs.Int(args, "--cycles", 20);
        var dir = Path.Join(Path.GetTempPath(), "isola-agentbench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var started = await IsolaServer.StartAsync(new ServerSettings(Path.Join(dir, "isola.db"), "http://127.0.0.1:0", VniRanges: ["5000:5999"]));
            var url = started.App.Urls.First();
            using var admin = Client(url, started.InitialAdminSecret!);
            // x710-2s with 64 cores per socket: room for 100+ one-pCPU servers (124 isolated pCPUs, 192 x 1 GiB pages, 256 VFs).
            var profile = ProfileCatalog.Get("x710-2s");
            profile.CoresPerSocket = 64;
            var sim = new SimulatedHost(ProfileExpander.Expand(profile, "sim1"), Path.Join(dir, "root"));
            var token = (await Post(admin, "/v1/tokens", new { role = "host", host = "sim1" })).GetProperty("secret").GetString()!;
            var layout = Isola.Rendering.Flows.OvsLayout.Parse("br-int", null);
            var agent = new HostAgent(sim.Host, ControllerClient.Create(new Uri(url), token, "sim1", "198.51.100.1"),
                new HostDriver(sim, Path.Join(dir, "root"), Path.Join(dir, "agent")), new AppliedStore(Path.Join(dir, "agent")), TimeProvider.System)
            {
                Ovs = args.Contains("--no-ovs") ? null : new OvsCycle(new OvsDriver(sim, Path.Join(dir, "agent")), layout),
            };
            await agent.RegisterAsync(default);
            await Post(admin, "/v1/projects", new { name = "b" });
            await Post(admin, "/v1/flavors", new
            {
                name = "small", vcpus = 1, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
            });
            await Post(admin, "/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100, project = "b" });
            await Post(admin, "/v1/networks", new { name = "internal", type = "vxlan", project = "b" });
            await Post(admin, "/v1/subnets", new { name = "internal4", network = "internal", cidr = "10.20.0.0/20", project = "b" });

            using var stop = new CancellationTokenSource();
            var loop = Task.Run(() => agent.RunAsync(stop.Token));
            var toActive = new double[servers];
            for (var i = 0; i < servers; i++)
            {
                await Post(admin, "/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct", project = "b" });
                await Post(admin, "/v1/ports", new { name = $"v{i}", network = "internal", vnicType = "normal", project = "b" });
                var clock = Stopwatch.StartNew();
                var id = (await Post(admin, "/v1/servers", new { name = $"vm{i}", flavor = "small", ports = new[] { $"p{i}", $"v{i}" }, project = "b" })).GetProperty("id").GetString();
                while ((await admin.GetFromJsonAsync<JsonElement>($"/v1/servers/{id}")).GetProperty("status").GetString() != "ACTIVE")
                {
                    if (clock.Elapsed > TimeSpan.FromSeconds(60))
                        throw new TimeoutException($"vm{i} not ACTIVE after 60 s");
                    await Task.Delay(2);
                }
                toActive[i] = clock.Elapsed.TotalMilliseconds;
            }
            await stop.CancelAsync();
            await loop;

            var cost = new double[cycles];
            var commands = 0;
            await agent.CycleAsync();
            for (var i = 0; i < cycles; i++)
            {
                var before = sim.Log.Count;
                var clock = Stopwatch.StartNew();
                var result = await agent.CycleAsync();
                cost[i] = clock.Elapsed.TotalMilliseconds;
                commands = sim.Log.Count - before;
                if (result.Done.Count > 0)
                    throw new InvalidOperationException($"a steady host needed {result.Done.Count} steps");
            }
            // The poll with plan stamps (plans held from the first call) against the poll carrying every plan, alternated.
            var deltas = ControllerClient.Create(new Uri(url), token, "sim1");
            var full = ControllerClient.Create(new Uri(url), token, "sim1", planDeltas: false);
            await deltas.DesiredAsync(null, TimeSpan.Zero, default);
            var fetch = new double[cycles];
            var fetchFull = new double[cycles];
            for (var i = 0; i < cycles; i++)
            {
                var clock = Stopwatch.StartNew();
                await deltas.DesiredAsync(null, TimeSpan.Zero, default);
                fetch[i] = clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                await full.DesiredAsync(null, TimeSpan.Zero, default);
                fetchFull[i] = clock.Elapsed.TotalMilliseconds;
            }
            var bytes = (await admin.GetByteArrayAsync("/v1/hosts/sim1/desired?plans=omit")).Length;
            var bytesFull = (await admin.GetByteArrayAsync("/v1/hosts/sim1/desired")).Length;
            Array.Sort(fetch);
            Array.Sort(fetchFull);
            Array.Sort(toActive);
            Array.Sort(cost);
            Console.WriteLine(FormattableString.Invariant(
                $"| create → ACTIVE, 1 host, sequential | {servers} | p50 {Q(toActive, 0.5):0.0} ms | p99 {Q(toActive, 0.99):0.0} ms | max {toActive[^1]:0.0} ms |"));
            Console.WriteLine(FormattableString.Invariant(
                $"| reconcile cycle, {servers} VMs on the host, nothing to change | {cycles} cycles | p50 {Q(cost, 0.5):0.0} ms | p99 {Q(cost, 0.99):0.0} ms | {commands} host commands per cycle |"));
            Console.WriteLine(FormattableString.Invariant(
                $"| of which GET desired?plans=omit ({servers} servers, plan stamps) | {cycles} calls | p50 {Q(fetch, 0.5):0.0} ms | p99 {Q(fetch, 0.99):0.0} ms | {bytes / 1024.0:0} KiB |"));
            Console.WriteLine(FormattableString.Invariant(
                $"| GET desired with every plan (before) | {cycles} calls | p50 {Q(fetchFull, 0.5):0.0} ms | p99 {Q(fetchFull, 0.99):0.0} ms | {bytesFull / 1024.0:0} KiB; ratio p50 x{Q(fetchFull, 0.5) / Q(fetch, 0.5):0.0} |"));
            Console.WriteLine(FormattableString.Invariant($"| flows on br-int | {sim.Ovs.Flows("br-int").Count} | | | |"));
            await started.App.StopAsync();
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Q(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    private static HttpClient Client(string url, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonElement> Post(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body, IsolaJson.Options);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
