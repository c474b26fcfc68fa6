using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Host.Hardware;
using Isola.Server;
using Isola.Server.Settings;
using Microsoft.AspNetCore.Builder;

namespace Isola.Bench;

/// <summary>
/// Servers created per second through the API, end to end: a real server on 127.0.0.1 with its
/// store (a fresh SQLite file, or a PostgreSQL database given by connection string), x710-2s hosts
/// registered as agents do, ports made beforehand, then timed POST /v1/servers with a few clients at once.
/// Usage: api [--store sqlite|&lt;connection string&gt;] [--hosts 100] [--servers 1000] [--concurrency 8] [--warmup 200]
/// </summary>
internal static class ApiBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var storeArg = BenchArgs.Get(args, "--store", "sqlite");
        var hosts = BenchArgs.Int(args, "--hosts", 100);
        var servers = BenchArgs.Int(args, "--servers", 1000);
        var concurrency = BenchArgs.Int(args, "--concurrency", 8);
        var warmup = BenchArgs.Int(args, "--warmup", 200);
        var dir = Path.Join(Path.GetTempPath(), "isola-apibench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var store = storeArg == "sqlite" ? Path.Join(dir, "isola.db") : storeArg;
        try
        {
            var started = await IsolaServer.StartAsync(new ServerSettings(store, "http://127.0.0.1:0", VlanRanges: ["physnet2:100:199"]));
            var url = started.App.Urls.First();
            using var admin = Client(url, started.InitialAdminSecret ?? throw new InvalidOperationException("use an empty store: the admin token must be new"));

            var template = ProfileExpander.Expand(ProfileCatalog.Get("x710-2s"));
            for (var i = 0; i < hosts; i++)
            {
                var name = $"host-{i:D5}";
                var body = new StringContent(InventoryDocument.Of(template with { Hostname = name }).ToJson(), Encoding.UTF8, "application/json");
                (await admin.PutAsync($"/v1/hosts/{name}", body)).EnsureSuccessStatusCode();
            }
            await Post(admin, "/v1/projects", new { name = "bench" });
            var secret = (await Post(admin, "/v1/tokens", new { role = "member", project = "bench" })).GetProperty("secret").GetString()!;
            await Post(admin, "/v1/flavors", new
            {
                name = "nfv.bench", vcpus = 2, ram = 2048, disk = 10,
                extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB", ["hw:pci_numa_affinity_policy"] = "required" },
            });
            using var member = Client(url, secret);
            await Post(member, "/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 });
            for (var i = 0; i < servers + warmup; i++)
                await Post(member, "/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" });
            // Warm up (JIT tiers, pools, caches) with creates that are not timed.
            for (var i = servers; i < servers + warmup; i++)
                await Post(member, "/v1/servers", new { name = $"warm{i}", flavor = "nfv.bench", ports = new[] { $"p{i}" } });

            var latencies = new double[servers];
            var failures = 0;
            var next = -1;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                using var client = Client(url, secret);
                int i;
                while ((i = Interlocked.Increment(ref next)) < servers)
                {
                    var t = Stopwatch.GetTimestamp();
                    using var response = await client.PostAsJsonAsync("/v1/servers", new { name = $"vm{i}", flavor = "nfv.bench", ports = new[] { $"p{i}" } });
                    latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                    if (!response.IsSuccessStatusCode)
                        Interlocked.Increment(ref failures);
                }
            }));
            clock.Stop();
            var cpuPerCreate = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / servers;
            Array.Sort(latencies);
            string Ms(double q) => latencies[Math.Min(servers - 1, (int)Math.Ceiling(q * servers) - 1)].ToString("0.0", CultureInfo.InvariantCulture);
            var engine = storeArg == "sqlite" ? "SQLite" : "PostgreSQL";
            Console.WriteLine(FormattableString.Invariant(
                $"| {engine} | {hosts} | {servers} | {concurrency} | {servers / clock.Elapsed.TotalSeconds:0} | {Ms(0.5)} | {Ms(0.99)} | {cpuPerCreate:0.00} | {failures} |"));
            await started.App.StopAsync();
            return failures == 0 ? 0 : 1;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static HttpClient Client(string url, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonElement> Post(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
