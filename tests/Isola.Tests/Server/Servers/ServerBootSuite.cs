using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Isola.Tests.Server.Images;
using Isola.Tests.Store;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server.Servers;

/// <summary>
/// Servers booting from images over real HTTP (images uploaded with the real qemu-img): what the create
/// takes and refuses, what the host's agent is given, the view, and an image kept while a server boots
/// from it; on SQLite and on PostgreSQL.
/// </summary>
public abstract class ServerBootSuite : IDisposable
{
    private readonly ImageFiles _files = new();

    protected TempDir Dir { get; } = new();

    protected abstract Task<string> NewStoreAsync();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _files.Dispose();
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    private async Task<ApiWorld> Start() => await ApiWorld.StartAsync(await NewStoreAsync());

    /// <summary>An image made and its file uploaded by <paramref name="c"/>; its id.</summary>
    private static async Task<string> ImageAsync(HttpClient c, string path, object create)
    {
        var (status, made) = await c.Post("/v1/images", create);
        Assert.True(status == 201, made.ToString());
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await c.PutAsync($"/v1/images/{made.Str("id")}/file", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return made.Str("id");
    }

    private static async Task<HttpClient> HostAgent(ApiWorld w, string host) =>
        w.Server.Client((await w.Admin.Post("/v1/tokens", new { role = "host", host })).Body.Str("secret"));

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static async Task<int> ServerCount(ApiWorld w) => (await w.Admin.Get("/v1/servers")).Body.GetArrayLength();

    [Fact]
    public async Task A_server_booted_from_an_image_gives_its_host_the_image_its_user_data_and_its_keys()
    {
        await using var w = await Start();
        var path = await _files.Qcow2Async("cirros.qcow2", "1G");
        var image = await ImageAsync(w.Member, path, new { name = "cirros", diskFormat = "qcow2", minDisk = 1 });
        const string userData = "#cloud-config\nruncmd:\n  - [echo, \"héllo\"]\n";
        string[] keys = [TestKeys.Ed25519(1, "alice@laptop"), TestKeys.Ecdsa256(2)];

        var (status, created) = await w.Member.Post("/v1/servers", new { name = "vm1", flavor = "nfv.small", image = "cirros", userData = Base64(userData), sshKeys = keys });

        Assert.True(status == 201, created.ToString());
        Assert.Equal((image, "cirros"), (created.GetProperty("image").Str("id"), created.GetProperty("image").Str("name")));
        // Keys are shown by fingerprint (as ssh-keygen -l says them); the user data is never shown back.
        Assert.Equal([(TestKeys.Fingerprint(keys[0]), "ssh-ed25519", "alice@laptop"), (TestKeys.Fingerprint(keys[1]), "ecdsa-sha2-nistp256", null)],
            created.GetProperty("sshKeys").EnumerateArray().Select(k => (k.Str("fingerprint"), k.Str("type"), k.GetProperty("comment").GetString())));
        Assert.False(created.TryGetProperty("userData", out _));
        var host = created.Str("host");

        // What the host's agent reads: the image to fetch (id, checksum, size), a disk of the flavor's size, the config drive.
        var agent = await HostAgent(w, host);
        var (_, desired) = await agent.Get($"/v1/hosts/{host}/desired");
        var plan = desired.GetProperty("servers").EnumerateArray().Single().GetProperty("plan");
        var disk = plan.GetProperty("disk");
        Assert.Equal((image, "qcow2", ImageFiles.Sha256(path), new FileInfo(path).Length, 1L << 30, 10),
            (disk.GetProperty("image").Str("id"), disk.GetProperty("image").Str("diskFormat"), disk.GetProperty("image").Str("checksum"),
             disk.GetProperty("image").GetProperty("size").GetInt64(), disk.GetProperty("image").GetProperty("virtualSize").GetInt64(), disk.GetProperty("sizeGiB").GetInt32()));
        var drive = plan.GetProperty("configDrive");
        Assert.Equal(userData, drive.Str("userData"));
        Assert.Contains($"public-keys:\n  - \"{keys[0]}\"\n  - \"{keys[1]}\"\n", drive.Str("metaData"), StringComparison.Ordinal);
        Assert.Contains($"instance-id: \"{created.Str("id")}\"", drive.Str("metaData"), StringComparison.Ordinal);

        // Shown and listed with its image; the host's agent reads its bytes, another host's does not.
        Assert.Equal("cirros", (await w.Member.Get("/v1/servers/vm1")).Body.GetProperty("image").Str("name"));
        Assert.Equal(["cirros"], (await w.Member.Get("/v1/servers")).Body.EnumerateArray().Select(s => s.GetProperty("image").Str("name")));
        using (var read = await agent.GetAsync($"/v1/images/{image}/file"))
        {
            Assert.True(read.IsSuccessStatusCode, read.StatusCode.ToString());
            Assert.Equal(await File.ReadAllBytesAsync(path), await read.Content.ReadAsByteArrayAsync());
        }
        var elsewhere = await HostAgent(w, host == "h1" ? "h2" : "h1");
        Assert.Equal(404, (await elsewhere.Get($"/v1/images/{image}/file")).Status);

        // Kept while the server boots from it; once the server is gone, its host reads it no more and it may go.
        Assert.Equal((409, "in-use"), ErrorOf(await w.Member.Delete("/v1/images/cirros")));
        Assert.Equal(204, (await w.Member.Delete("/v1/servers/vm1")).Status);
        Assert.Equal(404, (await agent.Get($"/v1/images/{image}/file")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/images/cirros")).Status);
    }

    [Fact]
    public async Task A_server_without_an_image_has_a_blank_disk_of_its_flavor_and_no_image_in_its_view()
    {
        await using var w = await Start();
        var (status, created) = await w.Member.Post("/v1/servers", new { name = "pxe", flavor = "nfv.small" });
        Assert.True(status == 201, created.ToString());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("image").ValueKind);
        Assert.Empty(created.GetProperty("sshKeys").EnumerateArray());

        var disk = (await w.Member.Get("/v1/servers/pxe/plan")).Body.GetProperty("disk");
        Assert.Equal((JsonValueKind.Null, 10), (disk.GetProperty("image").ValueKind, disk.GetProperty("sizeGiB").GetInt32()));
        Assert.Equal(JsonValueKind.Null, (await w.Member.Get("/v1/servers/pxe")).Body.GetProperty("image").ValueKind);
    }

    [Fact]
    public async Task A_flavor_without_a_disk_takes_the_images_virtual_size_in_whole_GiB_and_at_least_its_min_disk()
    {
        await using var w = await Start();
        Assert.Equal(201, (await w.Admin.Post("/v1/flavors", new { name = "nodisk", vcpus = 1, ram = 512, disk = 0 })).Status);
        // 3 GiB and 1 MiB: 4 GiB. With minDisk 6: 6 GiB.
        await ImageAsync(w.Member, await _files.Qcow2Async("a.qcow2", "3073M"), new { name = "a", diskFormat = "qcow2", minDisk = 2 });
        await ImageAsync(w.Member, await _files.Qcow2Async("b.qcow2", "3073M"), new { name = "b", diskFormat = "qcow2", minDisk = 6 });

        foreach (var (image, gib) in new[] { ("a", 4), ("b", 6) })
        {
            var (status, created) = await w.Member.Post("/v1/servers", new { name = "vm-" + image, flavor = "nodisk", image });
            Assert.True(status == 201, created.ToString());
            Assert.Equal(gib, (await w.Member.Get($"/v1/servers/vm-{image}/plan")).Body.GetProperty("disk").GetProperty("sizeGiB").GetInt32());
        }
    }

    [Fact]
    public async Task A_flavor_disk_smaller_than_the_images_min_disk_or_virtual_size_is_400_naming_the_flavor_and_both_sizes()
    {
        await using var w = await Start();
        await ImageAsync(w.Member, await _files.Qcow2Async("big.qcow2", "16M"), new { name = "needs20", diskFormat = "qcow2", minDisk = 20 });
        await ImageAsync(w.Member, await _files.Qcow2Async("huge.qcow2", "11G"), new { name = "holds11", diskFormat = "qcow2" });

        var (status, error) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", image = "needs20" });
        Assert.Equal((400, "flavor"), (status, error.ErrorField()));
        Assert.Contains("flavor nfv.small has a 10 GiB disk; image needs20 needs at least 20 GiB (its minDisk)", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        (status, error) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", image = "holds11" });
        Assert.Equal((400, "flavor"), (status, error.ErrorField()));
        Assert.Contains("image holds11 holds a 11811160064-byte disk (11 GiB, its virtualSize)", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Equal(0, await ServerCount(w));
    }

    [Fact]
    public async Task An_image_a_server_may_not_boot_is_400_naming_image_and_a_public_one_of_another_project_boots()
    {
        await using var w = await Start();
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        Assert.Equal(201, (await w.Member.Post("/v1/images", new { name = "queued", diskFormat = "raw" })).Status);
        var theirs = await ImageAsync(w.Other, _files.Raw("theirs.raw", 1 << 20), new { name = "theirs", diskFormat = "raw" });
        var (_, pub) = await w.Admin.Post("/v1/images", new { name = "pub", diskFormat = "raw", visibility = "public", project = "tenant-b" });
        await using (var file = File.OpenRead(_files.Raw("pub.raw", 1 << 20)))
        {
            using var content = new StreamContent(file);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            Assert.True((await w.Other.PutAsync($"/v1/images/{pub.Str("id")}/file", content)).IsSuccessStatusCode);
        }

        async Task<(int, string, string)> Refused(HttpClient c, object body)
        {
            var (status, error) = await c.Post("/v1/servers", body);
            return (status, error.ValueKind == JsonValueKind.Object ? error.ErrorField() : "", error.ValueKind == JsonValueKind.Object ? error.GetProperty("error").Str("message") : "");
        }

        var (status, field, message) = await Refused(w.Member, new { name = "vm", flavor = "nfv.small", image = "queued", networks = new[] { new { network = "lan" } } });
        Assert.Equal((400, "image"), (status, field));
        Assert.Contains("image queued is queued: a server boots only from an active image", message, StringComparison.Ordinal);
        // Another project's private image answers as one that does not exist: its existence is not revealed.
        (status, field, message) = await Refused(w.Member, new { name = "vm", flavor = "nfv.small", image = theirs });
        Assert.Equal((400, "image", $"image: the project sees no image '{theirs}' (its own, or a public one)"), (status, field, message));
        (status, field, message) = await Refused(w.Member, new { name = "vm", flavor = "nfv.small", image = "no-such-image" });
        Assert.Equal((400, "image", "image: the project sees no image 'no-such-image' (its own, or a public one)"), (status, field, message));
        // An admin's server is its project's: that project's images and public ones.
        (status, field, _) = await Refused(w.Admin, new { name = "vm", flavor = "nfv.small", image = theirs, project = "tenant-a" });
        Assert.Equal((400, "image"), (status, field));
        Assert.Equal(0, await ServerCount(w));
        Assert.Empty((await w.Member.Get("/v1/ports")).Body.EnumerateArray());

        var (made, server) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", image = "pub" });
        Assert.True(made == 201, server.ToString());
        Assert.Equal((pub.Str("id"), "pub"), (server.GetProperty("image").Str("id"), server.GetProperty("image").Str("name")));
        Assert.Equal(201, (await w.Admin.Post("/v1/servers", new { name = "vm2", flavor = "nfv.small", image = "pub", project = "tenant-a" })).Status);
        // The owner cannot delete it while another project's servers boot from it.
        Assert.Equal((409, "in-use"), ErrorOf(await w.Other.Delete("/v1/images/pub")));
    }

    public static TheoryData<string, string, string> BadGuestData()
    {
        var good = TestKeys.Ed25519(7);
        var body = good.Split(' ')[1];
        return new()
        {
            // what, the body's boot fields (JSON), the field at fault
            { "not base64", """ "userData": "not base64!" """, "userData" },
            { "not UTF-8", $$""" "userData": "{{Convert.ToBase64String([0x23, 0xff, 0xfe, 0x0a])}}" """, "userData" },
            { "over Nova's 65535 characters", $$""" "userData": "{{new string('A', 65536)}}" """, "userData" },
            { "an unknown key type", $$""" "sshKeys": ["{{good}}", "ssh-dss {{body}}"] """, "sshKeys[1]" },
            { "authorized_keys options", $$""" "sshKeys": ["from=\"10.0.0.1\" {{good}}"] """, "sshKeys[0]" },
            { "a body that is not base64", $$""" "sshKeys": ["{{good}}", "ssh-ed25519 !!!! x"] """, "sshKeys[1]" },
            { "a body of another type", $$""" "sshKeys": ["ssh-rsa {{body}} x"] """, "sshKeys[0]" },
            { "two keys in one", $$""" "sshKeys": ["{{good}}\n{{good}}"] """, "sshKeys[0]" },
            { "no body", """ "sshKeys": ["ssh-ed25519"] """, "sshKeys[0]" },
            { "17 keys", $$""" "sshKeys": [{{string.Join(", ", Enumerable.Range(0, 17).Select(i => $"\"{TestKeys.Ed25519(i)}\""))}}] """, "sshKeys" },
        };
    }

    [Theory]
    [MemberData(nameof(BadGuestData))]
    public async Task Bad_user_data_or_ssh_keys_are_400_naming_the_field_and_make_nothing(string what, string fields, string field)
    {
        await using var w = await Start();
        var (status, error) = await w.Member.Send(HttpMethod.Post, "/v1/servers", $$"""{"name": "vm", "flavor": "nfv.small", {{fields}}}""");

        Assert.True((400, "invalid") == (status, error.ErrorCode()), $"{what}: {status} {error}");
        Assert.Contains(field, error.GetProperty("error").GetProperty("details").EnumerateArray().Select(d => d.Str("field")));
        Assert.Equal(0, await ServerCount(w));
    }

    [Fact]
    public async Task User_data_as_long_as_Nova_takes_it_reaches_the_config_drive_whole()
    {
        await using var w = await Start();
        // 65532 characters of base64 (the longest padded text under Nova's 65535): 49149 bytes.
        var text = string.Concat(Enumerable.Repeat("#cloud-config 0123456789\n", 2000))[..49149];
        Assert.Equal(65532, Base64(text).Length);

        var (status, created) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", userData = Base64(text) });

        Assert.True(status == 201, created.ToString());
        Assert.Equal(text, (await w.Member.Get("/v1/servers/vm/plan")).Body.GetProperty("configDrive").Str("userData"));
    }

    [Fact]
    public async Task A_create_that_fails_after_its_image_was_found_leaves_no_port_and_no_reference_to_the_image()
    {
        await using var w = await Start();
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        Assert.Equal(201, (await w.Admin.Post("/v1/flavors", new { name = "huge", vcpus = 64, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } })).Status);
        await ImageAsync(w.Member, _files.Raw("disk.raw", 1 << 20), new { name = "disk", diskFormat = "raw" });

        var (status, error) = await w.Member.Post("/v1/servers", new { name = "big", flavor = "huge", image = "disk", networks = new[] { new { network = "lan", vnicType = "direct" } } });

        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        Assert.Equal(0, await ServerCount(w));
        Assert.Empty((await w.Member.Get("/v1/ports")).Body.EnumerateArray());
        Assert.Equal(204, (await w.Member.Delete("/v1/images/disk")).Status);
    }

    /// <summary>An image made and its file uploaded (for the PostgreSQL-only case below).</summary>
    protected Task<string> UploadAsync(HttpClient c, string name) => ImageAsync(c, _files.Raw(name + ".raw", 1 << 20), new { name, diskFormat = "raw" });

    protected static (int, string) ErrorOf((int Status, JsonElement Body) answer) => (answer.Status, answer.Body.ErrorCode());
}

public sealed class SqliteServerBootTests : ServerBootSuite
{
    protected override Task<string> NewStoreAsync() => Task.FromResult(Dir.Sub($"isola-{Guid.NewGuid():N}.db"));
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresServerBootTests(PostgresServer server) : ServerBootSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();

    /// <summary>
    /// PostgreSQL only: while the create writes the port it makes (the port store's test seam, inside that
    /// port's transaction, which SQLite would hold the one write lock for), the image is deleted through the API.
    /// </summary>
    [Fact]
    public async Task An_image_deleted_between_the_creates_check_and_its_commit_fails_it_with_image_gone_and_leaves_no_port()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        await UploadAsync(w.Member, "disk");
        var store = w.Server.App.Services.GetRequiredService<Isola.Store.Resources.ResourceStore>();
        store.Ports.BeforeCommit = async () => Assert.Equal(204, (await w.Member.Delete("/v1/images/disk")).Status);

        var (status, error) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", image = "disk", networks = new[] { new { network = "lan", vnicType = "direct" } } });
        store.Ports.BeforeCommit = null;

        Assert.Equal((409, "image-gone", "image"), (status, error.ErrorCode(), error.ErrorField()));
        Assert.Empty((await w.Member.Get("/v1/servers")).Body.EnumerateArray());
        Assert.Empty((await w.Member.Get("/v1/ports")).Body.EnumerateArray());
    }
}
