using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Lab;
using Isola.Lab.Guest;
using Isola.Rendering.Boot;
using Isola.Server;
using Isola.Server.Settings;

namespace Isola.Bench;

/// <summary>
/// Real VMs on this machine. First the image cache: what a server's disk costs on a host whose cache misses (the image
/// fetched from the API with its checksum taken, then the qcow2 overlay made) against one that hits (the overlay only),
/// by image size. Then real servers on this machine through <c>isola up --libvirt</c> (its libvirtd, QEMU and Open vSwitch):
/// create → ACTIVE → the guest's init up → it answers a ping; stop → SHUTOFF; start → it answers again.
/// Usage: vm [--image-mib 64,256,1024] [--runs 3] [--vms 3]
/// </summary>
internal static class VmBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sizes = BenchArgs.Get(args, "--image-mib", "64,256,1024").Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var runs = BenchArgs.Int(args, "--runs", 3);
        var vms = BenchArgs.Int(args, "--vms", 3);
        var dir = Path.Join(Path.GetTempPath(), "isola-vmbench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        Console.WriteLine("## Real VMs: image cache, create, stop and start");
        Console.WriteLine();
        Console.WriteLine($"    dotnet run -c Release --project bench/Isola.Bench -- vm {string.Join(' ', args)}".TrimEnd());
        Console.WriteLine();
        foreach (var fact in Machine.Facts())
            Console.WriteLine($"- {fact}");
        Console.WriteLine();
        try
        {
            var started = await IsolaServer.StartAsync(new ServerSettings(Path.Join(dir, "isola.db"), "http://127.0.0.1:0",
                DataDir: Path.Join(dir, "data"), MaxImageBytes: 8L << 30));
            var url = started.App.Urls.First();
            using var admin = Client(url, started.InitialAdminSecret!);
            await Post(admin, "/v1/projects", new { name = "b" });
            await ImageCacheAsync(admin, url, started.InitialAdminSecret!, dir, sizes, runs);
            await started.App.StopAsync();
            await RealVmsAsync(dir, vms);
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task ImageCacheAsync(HttpClient admin, string url, string secret, string dir, IReadOnlyList<int> sizes, int runs)
    {
        Console.WriteLine("### A server's disk on a host: image cache miss against hit");
        Console.WriteLine();
        Console.WriteLine("| image (raw, random bytes) | miss: fetch + SHA-256 + overlay, p50 | miss throughput | hit: overlay only, p50 | miss / hit |");
        Console.WriteLine("|---|---|---|---|---|");
        var runner = new ProcessCommandRunner(TimeSpan.FromMinutes(5));
        foreach (var mib in sizes)
        {
            var file = Path.Join(dir, $"image-{mib}.raw");
            await using (var f = File.Create(file))
            {
                var buffer = new byte[1 << 20];
                for (var i = 0; i < mib; i++)
                {
                    Random.Shared.NextBytes(buffer);
                    await f.WriteAsync(buffer);
                }
            }
            var image = await UploadAsync(admin, $"img{mib}", file);
            File.Delete(file);
            var source = ControllerClient.Create(new Uri(url), secret, "bench");
            var misses = new List<double>();
            var hits = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                var state = Path.Join(dir, $"state-{mib}-{run}");
                var storage = new InstanceStorage(runner, "/", state, Path.Join(state, "instances"), source);
                var clock = Stopwatch.StartNew();
                await storage.FetchImageAsync(image, default);
                await storage.CreateDiskAsync(new InstanceDisk(Path.Join(state, "instances", "miss", "disk.qcow2"), 1, image), default);
                misses.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                await storage.FetchImageAsync(image, default); // cached: nothing to fetch
                await storage.CreateDiskAsync(new InstanceDisk(Path.Join(state, "instances", "hit", "disk.qcow2"), 1, image), default);
                hits.Add(clock.Elapsed.TotalMilliseconds);
                Directory.Delete(state, recursive: true);
            }
            var miss = Median(misses);
            var hit = Median(hits);
            Console.WriteLine(FormattableString.Invariant($"| {mib} MiB | {miss:0} ms | {mib / (miss / 1000):0} MiB/s | {hit:0.0} ms | x{miss / hit:0} |"));
        }
        Console.WriteLine();
    }

    /// <summary>
    /// Real servers on this machine as <c>isola up --libvirt</c> runs them (its libvirtd, QEMU and Open vSwitch): a first server
    /// pings a fixed address each second; each run creates a server at that address and times create → ACTIVE, → its init up
    /// (its config drive read), → the first server's ping answered by it; then stop → SHUTOFF and start → answering again.
    /// </summary>
    private static async Task RealVmsAsync(string dir, int vms)
    {
        Console.WriteLine("### A real server: create → it answers ping, stop, start (this machine's libvirtd, QEMU and Open vSwitch, via isola up --libvirt)");
        Console.WriteLine();
        if (GuestImage.Missing() is { } missing)
        {
            Console.WriteLine($"skipped: {missing}");
            return;
        }
        var guest = Path.Join(dir, "guest.qcow2");
        await GuestImage.BuildAsync(guest);
        Isola.Cli.Local.LocalCloud cloud;
        try
        {
            cloud = await Isola.Cli.Local.LocalCloud.StartAsync(new Isola.Cli.Local.LocalCloudOptions(Path.Join(dir, "up"), Urls: "http://127.0.0.1:0", Libvirt: true,
                Resync: TimeSpan.FromSeconds(1)));
        }
        catch (Isola.Cli.Local.LocalCloudException e)
        {
            Console.WriteLine($"skipped: {e.Message}");
            return;
        }
        var rows = new List<(double Active, double Up, double Answers, double Stop, double Start, double AnswersAgain)>();
        string kind;
        await using (cloud)
        {
            kind = cloud.Hosts[0].Inventory.Virt.DomainType;
            using var admin = Client(cloud.Url, cloud.AdminToken);
            await UploadAsync(admin, "guest", guest, "qcow2", project: "demo");
            const string Target = "10.20.0.50";
            var pinger = await CreateAsync(admin, "pinger", "10.20.0.40", $$"""
                #!/bin/sh
                ( n=0; while true; do n=$((n+1)); if ping -c 1 -W 1 {{Target}} >/dev/null 2>&1; then echo "isola-guest: ping {{Target}} $n ok"; fi; sleep 0.5; done ) &
                """);
            var pingerConsole = Path.Join(dir, "up", "instances", "isola-" + pinger, "console.log");
            await UntilAsync(admin, pinger, "ACTIVE");
            await ConsoleAsync(pingerConsole, "isola-guest: ready", 1);
            for (var i = 0; i < vms; i++)
            {
                var before = Count(pingerConsole, "ok");
                var clock = Stopwatch.StartNew();
                var id = await CreateAsync(admin, $"vm{i}", Target, null);
                var console = Path.Join(dir, "up", "instances", "isola-" + id, "console.log");
                await UntilAsync(admin, id, "ACTIVE");
                var active = clock.Elapsed.TotalSeconds;
                await ConsoleAsync(console, "isola-guest: ready", 1);
                var up = clock.Elapsed.TotalSeconds;
                await UntilCountAsync(pingerConsole, "ok", before + 1);
                var answers = clock.Elapsed.TotalSeconds;
                clock.Restart();
                await Post(admin, $"/v1/servers/{id}/action", new Dictionary<string, object?> { ["os-stop"] = null });
                await UntilAsync(admin, id, "SHUTOFF");
                var stopped = clock.Elapsed.TotalSeconds;
                clock.Restart();
                await Post(admin, $"/v1/servers/{id}/action", new Dictionary<string, object?> { ["os-start"] = null });
                await UntilAsync(admin, id, "ACTIVE");
                var started = clock.Elapsed.TotalSeconds;
                var now = Count(pingerConsole, "ok");
                await UntilCountAsync(pingerConsole, "ok", now + 1);
                rows.Add((active, up, answers, stopped, started, clock.Elapsed.TotalSeconds));
                using (await admin.DeleteAsync($"/v1/servers/{id}"))
                {
                }
                var deadline = Stopwatch.StartNew();
                while (Directory.Exists(Path.Join(dir, "up", "instances", "isola-" + id)) && deadline.Elapsed < TimeSpan.FromMinutes(1))
                    await Task.Delay(100);
            }
            using (await admin.DeleteAsync($"/v1/servers/{pinger}"))
            {
            }
            var gone = Stopwatch.StartNew();
            while (Directory.Exists(Path.Join(dir, "up", "instances", "isola-" + pinger)) && gone.Elapsed < TimeSpan.FromMinutes(1))
                await Task.Delay(100);
        }
        Console.WriteLine($"Domain type {kind}{(kind == "qemu" ? " (TCG: KVM guests do not boot here)" : "")}; flavor tiny (1 vCPU, 256 MiB, 1 GiB disk); Isola's busybox guest image, "
            + $"cached on the host after the first server; a virtio port on the VXLAN network `internal`; {vms} servers one after another, each pinged every 0.5 s by a first server.");
        Console.WriteLine();
        Console.WriteLine("| server | create → ACTIVE | create → guest up (config drive read) | create → it answers ping | stop → SHUTOFF (ACPI) | start → ACTIVE | start → it answers ping |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            Console.WriteLine(FormattableString.Invariant($"| vm{i} | {r.Active:0.0} s | {r.Up:0.0} s | {r.Answers:0.0} s | {r.Stop:0.0} s | {r.Start:0.0} s | {r.AnswersAgain:0.0} s |"));
        }
        Console.WriteLine();
    }

    private static async Task<string> CreateAsync(HttpClient admin, string name, string ip, string? userData)
    {
        var body = new Dictionary<string, object?>
        {
            ["name"] = name, ["flavor"] = "tiny", ["image"] = "guest", ["project"] = "demo",
            ["networks"] = new[] { new { network = "internal", fixedIps = new[] { new { ipAddress = ip } } } },
        };
        if (userData is not null)
            body["userData"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(userData));
        return (await Post(admin, "/v1/servers", body)).GetProperty("id").GetString()!;
    }

    /// <summary>The sequence number of the last answered ping on the pinger's console (virtlogd rotates the file: numbers, not lines, are counted).</summary>
    private static int Count(string path, string word)
    {
        if (!File.Exists(path))
            return 0;
        var last = 0;
        foreach (var line in File.ReadAllText(path).Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"isola-guest: ping \S+ (\d+) " + word);
            if (m.Success)
                last = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return last;
    }

    private static async Task UntilCountAsync(string path, string word, int count)
    {
        var clock = Stopwatch.StartNew();
        while (Count(path, word) < count)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException($"no ping answered on {path}");
            await Task.Delay(50);
        }
    }

    private static async Task<ImageRef> UploadAsync(HttpClient admin, string name, string path, string format = "raw", string project = "b")
    {
        var image = await Post(admin, "/v1/images", new { name, diskFormat = format, project });
        var id = image.GetProperty("id").GetString()!;
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await admin.PutAsync($"/v1/images/{id}/file", content);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"upload of {name}: {(int)response.StatusCode} {body}");
        return new ImageRef(id, format, body.GetProperty("checksum").GetString()!, body.GetProperty("size").GetInt64());
    }

    private static async Task UntilAsync(HttpClient admin, string id, string status)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var server = await admin.GetFromJsonAsync<JsonElement>($"/v1/servers/{id}");
            if (server.GetProperty("status").GetString() == status && server.GetProperty("taskState").ValueKind == JsonValueKind.Null)
                return;
            if (server.GetProperty("status").GetString() == "ERROR" || clock.Elapsed > TimeSpan.FromMinutes(5))
                throw new InvalidOperationException($"server {id} is not {status}: {server}");
            await Task.Delay(50);
        }
    }

    private static async Task ConsoleAsync(string path, string line, int times)
    {
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(path) && File.ReadAllText(path).Split('\n').Count(l => l.Contains(line, StringComparison.Ordinal)) >= times))
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException($"'{line}' not {times}x on {path}");
            await Task.Delay(50);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static HttpClient Client(string url, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonElement> Post(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {answer}");
        return answer;
    }
}
