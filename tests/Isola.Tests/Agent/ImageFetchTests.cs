using System.Net.Http.Headers;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Rendering.Boot;
using Isola.Tests.Server;
using Isola.Tests.Server.Images;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>
/// The agent's image source: its <see cref="ControllerClient"/> streams an image from a real API server with
/// the host's token, into <see cref="InstanceStorage"/>'s cache, which keeps only what matches the image's
/// size and SHA-256; and a whole agent building a server from an image on a simulated host.
/// </summary>
public sealed class ImageFetchTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly ImageFiles _files = new();
    private ApiServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await ApiServer.StartAsync(_dir.Sub("isola.db"));
        _admin = _server.Client(_server.AdminSecret);
        await _admin.Post("/v1/projects", new { name = "p" });
        await _admin.Post("/v1/flavors", new { name = "f", vcpus = 1, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _files.Dispose();
        _dir.Dispose();
    }

    private async Task<string> HostToken(string host) => (await _admin.Post("/v1/tokens", new { role = "host", host })).Body.Str("secret");

    /// <summary>An image of project p with the file's bytes: its reference as a server's plan carries it.</summary>
    private async Task<ImageRef> ImageAsync(string name, string path, string format)
    {
        var (_, made) = await _admin.Post("/v1/images", new { name, diskFormat = format, project = "p" });
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _admin.PutAsync($"/v1/images/{made.Str("id")}/file", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return new ImageRef(made.Str("id"), format, ImageFiles.Sha256(path), new FileInfo(path).Length);
    }

    /// <summary>A registered host (an admin registers it, as an agent would) and a server on it booting from the image.</summary>
    private async Task<string> ServerOnHostAsync(string host, string image)
    {
        var inventory = new Isola.Tests.Scheduling.HostBuilder(host).Cores(4).Build();
        Assert.Equal(204, (await _admin.Send(HttpMethod.Put, $"/v1/hosts/{host}", Isola.Domain.Serialization.InventoryDocument.Of(inventory).ToJson())).Status);
        var (status, server) = await _admin.Post("/v1/servers", new { name = "vm-" + host, flavor = "f", image, project = "p" });
        Assert.True(status == 201, server.ToString());
        Assert.Equal(host, server.Str("host"));
        return server.Str("id");
    }

    private string[] CacheFiles(string root, string state)
    {
        var cache = Path.Join(root, state, "images");
        return Directory.Exists(cache) ? Directory.GetFiles(cache).Select(f => Path.GetFileName(f)!).Order().ToArray() : [];
    }

    [Fact]
    public async Task The_controller_client_streams_the_image_of_its_hosts_server_and_the_cache_keeps_only_matching_bytes()
    {
        // 3 MiB and a bit: several reads of the stream, not one buffer.
        var path = _files.Raw("disk.raw", (3 << 20) + 12345);
        var image = await ImageAsync("disk", path, "raw");
        await ServerOnHostAsync("h1", image.Id);
        var client = ControllerClient.Create(new Uri(_server.Url), await HostToken("h1"), "h1");

        using (var copy = new MemoryStream())
        {
            await client.CopyToAsync(image, copy, default);
            Assert.Equal(await File.ReadAllBytesAsync(path), copy.ToArray());
        }

        // Into the cache: checked, renamed into place, read from the cache the next time (no second fetch needed).
        var root = _dir.Sub("root");
        var storage = new InstanceStorage(new ScriptedCommandRunner(), root, "/var/lib/isola/agent", "/var/lib/isola/instances", client);
        await Assert.ThrowsAsync<DriverException>(() => storage.FetchImageAsync(image with { Checksum = new string('0', 64) }, default));
        Assert.Empty(CacheFiles(root, "/var/lib/isola/agent"));
        var wrongSize = await Assert.ThrowsAsync<DriverException>(() => storage.FetchImageAsync(image with { Size = image.Size - 1 }, default));
        Assert.Contains($"arrived as {image.Size} bytes", wrongSize.Message, StringComparison.Ordinal);
        Assert.Empty(CacheFiles(root, "/var/lib/isola/agent"));

        await storage.FetchImageAsync(image, default);
        Assert.Equal([image.Id], CacheFiles(root, "/var/lib/isola/agent"));
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(Path.Join(root, storage.CachedImage(image))));
        Assert.Equal([image.Id], storage.CachedImages());
    }

    [Fact]
    public async Task A_fetch_the_controller_refuses_or_that_is_cancelled_is_a_driver_error_and_leaves_nothing_in_the_cache()
    {
        var image = await ImageAsync("disk", _files.Raw("disk.raw", 1 << 20), "raw");
        await ServerOnHostAsync("h1", image.Id);
        var root = _dir.Sub("root");

        // Another host's token: none of its servers boots from the image.
        var other = ControllerClient.Create(new Uri(_server.Url), await HostToken("h2"), "h2");
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => other.CopyToAsync(image, Stream.Null, default));
        Assert.Contains($"404 /v1/images/{image.Id}/file: no image '{image.Id}' that a server on host h2 boots from", refused.Message, StringComparison.Ordinal);
        var storage = new InstanceStorage(new ScriptedCommandRunner(), root, "/state", "/instances", other);
        var failed = await Assert.ThrowsAsync<DriverException>(() => storage.FetchImageAsync(image, default));
        Assert.Contains("404", failed.Message, StringComparison.Ordinal);
        Assert.Empty(CacheFiles(root, "/state"));

        // Cancelled: the cancellation is the caller's, and no partial file stays.
        var mine = new InstanceStorage(new ScriptedCommandRunner(), root, "/state", "/instances", ControllerClient.Create(new Uri(_server.Url), await HostToken("h1"), "h1"));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => mine.FetchImageAsync(image, cancelled.Token));
        Assert.Empty(CacheFiles(root, "/state"));
    }

    [Fact]
    public async Task A_controller_that_stops_sending_is_given_up_after_the_idle_timeout()
    {
        // A listener that answers the headers and a first byte, then nothing.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var done = new TaskCompletionSource();
        var serve = Task.Run(async () =>
        {
            using var socket = await listener.AcceptTcpClientAsync();
            var stream = socket.GetStream();
            var buffer = new byte[4096];
            _ = await stream.ReadAsync(buffer);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nx"u8.ToArray());
            await done.Task; // holds the connection open, sending nothing more, until the test is through
        });
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var client = new ControllerClient(http, "h1") { ImageIdleTimeout = TimeSpan.FromMilliseconds(500) };

        var e = await Assert.ThrowsAsync<TimeoutException>(() => client.CopyToAsync(new ImageRef("i1", "raw", new string('a', 64), 1000), Stream.Null, default));

        Assert.Contains("image i1: no bytes from the controller for 0.5 s", e.Message, StringComparison.Ordinal);
        done.SetResult();
        await serve;
    }

    [Fact]
    public async Task An_agent_builds_a_server_from_an_image_it_fetched_into_its_cache_and_prunes_it_when_the_server_goes()
    {
        var host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, _dir.Sub("root"));
        var client = ControllerClient.Create(new Uri(_server.Url), await HostToken("sim1"), "sim1");
        var state = _dir.Sub("agent");
        var agent = new HostAgent(host.Host, client, new HostDriver(host, _dir.Sub("root"), state, images: client), new AppliedStore(state), TimeProvider.System);
        await agent.RegisterAsync(default);
        var path = await _files.Qcow2Async("cirros.qcow2", "64M");
        var image = await ImageAsync("cirros", path, "qcow2");
        var (status, server) = await _admin.Post("/v1/servers", new { name = "vm", flavor = "f", image = "cirros", project = "p" });
        Assert.True(status == 201, server.ToString());
        var id = server.Str("id");

        for (var i = 0; i < 5 && (await _admin.Get($"/v1/servers/{id}")).Body.Str("status") != "ACTIVE"; i++)
            Assert.Empty((await agent.CycleAsync()).Failures);

        Assert.Equal("ACTIVE", (await _admin.Get($"/v1/servers/{id}")).Body.Str("status"));
        // The cache is under the agent's state directory, a host path (here under the simulated host's root).
        var cached = Path.Join(_dir.Sub("root"), state, "images", image.Id);
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(cached));
        // The root disk is an overlay of the cached image (the simulated qemu-img says what it was made from).
        var disk = await File.ReadAllTextAsync(Path.Join(_dir.Sub("root"), $"/var/lib/isola/instances/isola-{id}/disk.qcow2"));
        Assert.Equal($"simulated qcow2 1G backing {Path.Join(state, "images", image.Id)} (qcow2)\n", disk);
        Assert.Single(host.Log, argv => argv is ["qemu-img", "create", ..]);

        Assert.Equal(204, (await _admin.Delete($"/v1/servers/{id}")).Status);
        Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.False(File.Exists(cached));
        Assert.False(Directory.Exists(Path.Join(_dir.Sub("root"), $"/var/lib/isola/instances/isola-{id}")));
    }
}
