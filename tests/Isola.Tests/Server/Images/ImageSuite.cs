using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dapper;
using Isola.Server.Settings;
using Isola.Store;
using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Images;

/// <summary>Images over real HTTP with the real qemu-img: upload, the checks, who reads them, delete; run on SQLite and on PostgreSQL.</summary>
public abstract class ImageSuite : IDisposable
{
    private readonly ImageFiles _files = new();
    private string _store = "";

    /// <summary>A directory of the test's (its SQLite stores).</summary>
    protected TempDir Dir { get; } = new();

    protected abstract Task<string> NewStoreAsync();

    private async Task<ApiWorld> Start(Func<ServerSettings, ServerSettings>? configure = null) =>
        await ApiWorld.StartAsync(_store = await NewStoreAsync(), configure: configure);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _files.Dispose();
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<JsonElement> Create(HttpClient c, string name, string diskFormat, object? more = null)
    {
        var (status, body) = await c.Post("/v1/images", more ?? new { name, diskFormat });
        Assert.True(status == 201, $"create {name}: {status} {body}");
        return body;
    }

    /// <summary>PUT /v1/images/{id}/file with the file's bytes; <paramref name="chunked"/>: without a Content-Length, as a stream of unknown length.</summary>
    private static async Task<(int Status, JsonElement Body)> Upload(HttpClient c, string id, string path, bool chunked = false, string contentType = "application/octet-stream")
    {
        await using var file = File.OpenRead(path);
        using HttpContent content = chunked ? new UnknownLength(file) : new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await c.PutAsync($"/v1/images/{id}/file", content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>A body whose length is not known beforehand: sent chunked.</summary>
    private sealed class UnknownLength(Stream source) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => source.CopyToAsync(stream);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private static string ImagesDir(ApiWorld w) => w.Server.Settings.ImageDirectory();

    /// <summary>Every file of the server's image directory: the committed images' bytes and any upload's.</summary>
    private static string[] BlobFiles(ApiWorld w) =>
        Directory.Exists(ImagesDir(w)) ? Directory.GetFiles(ImagesDir(w)).Select(f => Path.GetFileName(f)).Order().ToArray() : [];

    [Fact]
    public async Task A_qcow2_upload_makes_the_image_active_and_reads_back_byte_for_byte()
    {
        await using var w = await Start();
        var path = await _files.Qcow2Async("disk.qcow2", "16M");
        var created = await Create(w.Member, "cirros", "qcow2", new { name = "cirros", diskFormat = "qcow2", minDisk = 1 });
        Assert.Equal(("queued", "private", 1, JsonValueKind.Null), (created.Str("status"), created.Str("visibility"), created.GetProperty("minDisk").GetInt32(),
            created.GetProperty("checksum").ValueKind));
        var id = created.Str("id");
        Assert.Equal((409, "image-queued"), await ErrorOf(w.Member.Get($"/v1/images/{id}/file")));

        var (status, active) = await Upload(w.Member, id, path);

        Assert.True(status == 200, active.ToString());
        Assert.Equal(("active", new FileInfo(path).Length, 16L << 20, ImageFiles.Sha256(path)),
            (active.Str("status"), active.GetProperty("size").GetInt64(), active.GetProperty("virtualSize").GetInt64(), active.Str("checksum")));
        Assert.Equal("active", (await w.Member.Get("/v1/images/cirros")).Body.Str("status"));
        Assert.Equal([id], BlobFiles(w));

        using var response = await w.Member.GetAsync($"/v1/images/{id}/file");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(new FileInfo(path).Length, response.Content.Headers.ContentLength);
        Assert.Equal(ImageFiles.Sha256(path), response.Headers.GetValues("X-Image-Checksum").Single());
        Assert.Equal($"sha-256=:{Convert.ToBase64String(Convert.FromHexString(ImageFiles.Sha256(path)))}:", response.Headers.GetValues("Repr-Digest").Single());
        Assert.Equal(await File.ReadAllBytesAsync(path), await response.Content.ReadAsByteArrayAsync());

        // Its bytes do not change.
        Assert.Equal((409, "image-active"), await ErrorOf(Upload(w.Member, id, _files.Raw("other.raw", 4096))));
        Assert.Equal(ImageFiles.Sha256(path), (await w.Member.Get($"/v1/images/{id}")).Body.Str("checksum"));
    }

    [Fact]
    public async Task A_raw_upload_over_kestrels_default_body_limit_is_taken_whole_and_read_in_ranges()
    {
        await using var w = await Start();
        // Kestrel cuts bodies at 30,000,000 bytes unless an endpoint says otherwise; sent chunked, as a stream of unknown length.
        var path = _files.Raw("big.raw", 40 << 20);
        var id = (await Create(w.Member, "big", "raw")).Str("id");

        var (status, active) = await Upload(w.Member, id, path, chunked: true);

        Assert.True(status == 200, active.ToString());
        Assert.Equal((40L << 20, 40L << 20, ImageFiles.Sha256(path)), (active.GetProperty("size").GetInt64(), active.GetProperty("virtualSize").GetInt64(), active.Str("checksum")));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/images/{id}/file");
        request.Headers.Range = new RangeHeaderValue(1000, 1999);
        using var part = await w.Member.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal((await File.ReadAllBytesAsync(path))[1000..2000], await part.Content.ReadAsByteArrayAsync());
    }

    public static TheoryData<string, string, string, string> Refusals() => new()
    {
        // what, declared, field, the message says
        { "overlay", "qcow2", "backing-filename", "backing file" },
        { "external data", "qcow2", "data-file", "external file" },
        { "qcow2", "raw", "diskFormat", "is a qcow2 image" },
        { "raw", "qcow2", "diskFormat", "not a qcow2 image" },
        { "empty", "raw", "body", "empty" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_upload_names_the_field_leaves_no_bytes_and_the_image_queued_for_a_retry(string what, string declared, string field, string says)
    {
        await using var w = await Start();
        var path = what switch
        {
            "overlay" => await _files.OverlayAsync(),
            "external data" => await _files.ExternalDataAsync(),
            "qcow2" => await _files.Qcow2Async("disk.qcow2"),
            "raw" => _files.Raw("disk.raw", 1 << 20),
            _ => _files.Raw("empty.raw", 0),
        };
        var id = (await Create(w.Member, "img", declared)).Str("id");

        var (status, error) = await Upload(w.Member, id, path);

        Assert.Equal((400, "invalid", field), (status, error.ErrorCode(), error.ErrorField()));
        Assert.Contains(says, error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Equal("queued", (await w.Member.Get($"/v1/images/{id}")).Body.Str("status"));
        Assert.Empty(BlobFiles(w));
        var good = declared == "qcow2" ? await _files.Qcow2Async("good.qcow2") : _files.Raw("good.raw", 1 << 20);
        Assert.Equal(200, (await Upload(w.Member, id, good)).Status);
        Assert.Equal([id], BlobFiles(w));
    }

    [Fact]
    public async Task An_upload_that_is_not_octet_stream_is_415()
    {
        await using var w = await Start();
        var id = (await Create(w.Member, "img", "raw")).Str("id");
        var (status, error) = await Upload(w.Member, id, _files.Raw("disk.raw", 4096), contentType: "application/json");
        Assert.Equal((415, "Content-Type"), (status, error.ErrorField()));
        Assert.Empty(BlobFiles(w));
    }

    [Fact]
    public async Task An_image_over_the_size_limit_is_413_whether_its_length_is_said_or_not()
    {
        await using var w = await Start(s => s with { MaxImageBytes = 64 << 10 });
        var id = (await Create(w.Member, "img", "raw")).Str("id");
        var big = _files.Raw("big.raw", 1 << 20);

        foreach (var chunked in new[] { false, true })
        {
            var (status, error) = await Upload(w.Member, id, big, chunked);
            Assert.Equal((413, "too-large", "body"), (status, error.ErrorCode(), error.ErrorField()));
            Assert.Contains("at most 65536 bytes (its MaxImageBytes setting)", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
            Assert.Equal("queued", (await w.Member.Get($"/v1/images/{id}")).Body.Str("status"));
            Assert.Empty(BlobFiles(w));
        }
        Assert.Equal(200, (await Upload(w.Member, id, _files.Raw("small.raw", 64 << 10))).Status);
    }

    [Fact]
    public async Task An_image_a_server_boots_from_is_not_deleted_and_a_deleted_one_takes_its_bytes_along()
    {
        await using var w = await Start();
        var id = (await Create(w.Member, "img", "raw")).Str("id");
        Assert.Equal(200, (await Upload(w.Member, id, _files.Raw("disk.raw", 4096))).Status);
        var factory = StoreConnectionFactory.Parse(_store);
        var project = (await w.Member.Get($"/v1/images/{id}")).Body.Str("project");
        await using (var c = await factory.OpenAsync())
        {
            // The row as a server create writes it (ServerBootSuite makes them through the API).
            await c.ExecuteAsync("INSERT INTO servers (id, project_id, name, status, created_at, updated_at, image_id) VALUES ('s1', @project, 'vm1', 'BUILD', 'now', 'now', @id)",
                new { project, id });
        }

        Assert.Equal((409, "in-use"), await ErrorOf(w.Member.Delete($"/v1/images/{id}")));
        Assert.Equal([id], BlobFiles(w));

        await using (var c = await factory.OpenAsync())
            await c.ExecuteAsync("DELETE FROM servers WHERE id = 's1'");
        Assert.Equal(204, (await w.Member.Delete("/v1/images/img")).Status);
        Assert.Empty(BlobFiles(w));
        Assert.Equal(404, (await w.Member.Get($"/v1/images/{id}")).Status);
        Assert.Equal(404, (await w.Member.Delete($"/v1/images/{id}")).Status);
    }

    [Fact]
    public async Task Another_project_sees_no_private_image_everyone_reads_a_public_one_and_a_host_agent_no_image_its_servers_do_not_boot_from()
    {
        await using var w = await Start();
        var path = await _files.Qcow2Async("disk.qcow2");
        var id = (await Create(w.Member, "mine", "qcow2")).Str("id");
        Assert.Equal(200, (await Upload(w.Member, id, path)).Status);

        Assert.Equal(404, (await w.Other.Get($"/v1/images/{id}")).Status);
        Assert.Equal(404, (await w.Other.Get($"/v1/images/{id}/file")).Status);
        Assert.Equal(404, (await w.Other.Delete($"/v1/images/{id}")).Status);
        Assert.Empty((await w.Other.Get("/v1/images")).Body.EnumerateArray());
        Assert.Equal(["mine"], (await w.Admin.Get("/v1/images")).Body.EnumerateArray().Select(i => i.Str("name")));

        // Public: admins make them, every project reads them, only the owner (or an admin) changes them.
        Assert.Equal((400, "visibility"), await FieldOf(w.Member.Post("/v1/images", new { name = "pub", diskFormat = "raw", visibility = "public" })));
        Assert.Equal((400, "project"), await FieldOf(w.Admin.Post("/v1/images", new { name = "pub", diskFormat = "raw", visibility = "public" })));
        var pub = (await Create(w.Admin, "pub", "raw", new { name = "pub", diskFormat = "raw", visibility = "public", project = "tenant-b" })).Str("id");
        Assert.Equal(403, (await Upload(w.Member, pub, _files.Raw("pub.raw", 4096))).Status);
        Assert.Equal(200, (await Upload(w.Other, pub, _files.Raw("pub.raw", 4096))).Status);
        Assert.Equal(["mine", "pub"], (await w.Member.Get("/v1/images")).Body.EnumerateArray().Select(i => i.Str("name")));
        using (var read = await w.Member.GetAsync($"/v1/images/{pub}/file"))
            Assert.Equal(await File.ReadAllBytesAsync(_files.Dir + "/pub.raw"), await read.Content.ReadAsByteArrayAsync());
        Assert.Equal(403, (await w.Member.Delete($"/v1/images/{pub}")).Status);

        // A host's agent reads the bytes of the images its host's servers boot from (ServerBootSuite), no other image's, and nothing else of the images.
        var (_, hostToken) = await w.Admin.Post("/v1/tokens", new { role = "host", host = "h1" });
        using var agent = w.Server.Client(hostToken.Str("secret"));
        var (status, error) = await agent.Get($"/v1/images/{id}/file");
        Assert.Equal((404, "not-found"), (status, error.ErrorCode()));
        Assert.Contains("a server on host h1 boots from", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Equal(403, (await agent.Get("/v1/images")).Status);
        Assert.Equal(403, (await agent.Get($"/v1/images/{id}")).Status);
        Assert.Equal(403, (await agent.Delete($"/v1/images/{id}")).Status);
        Assert.Equal(401, (await w.Server.Client(null).Get($"/v1/images/{id}/file")).Status);
    }

    [Fact]
    public async Task An_upload_under_way_holds_up_no_other_request_and_a_second_upload_of_its_image_is_refused()
    {
        await using var w = await Start();
        var id = (await Create(w.Member, "slow", "raw")).Str("id");
        var half = new TaskCompletionSource();
        var go = new TaskCompletionSource();
        var upload = Task.Run(async () =>
        {
            using var content = new Paused(new byte[1 << 20], half, go.Task);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await w.Member.PutAsync($"/v1/images/{id}/file", content);
            return (int)response.StatusCode;
        });
        await half.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Half its bytes are in: other requests, and another image's whole upload, go through meanwhile.
        Assert.Equal(200, (await w.Member.Get("/v1/images")).Status);
        var other = (await Create(w.Member, "quick", "raw")).Str("id");
        Assert.Equal(200, (await Upload(w.Member, other, _files.Raw("quick.raw", 4096))).Status);
        Assert.Equal((409, "image-uploading"), await ErrorOf(Upload(w.Member, id, _files.Raw("again.raw", 4096))));
        Assert.Equal("queued", (await w.Member.Get($"/v1/images/{id}")).Body.Str("status"));

        go.SetResult();
        Assert.Equal(200, await upload.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(1L << 20, (await w.Member.Get($"/v1/images/{id}")).Body.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task An_image_deleted_while_its_upload_is_under_way_keeps_no_bytes_and_the_upload_is_404()
    {
        await using var w = await Start();
        var id = (await Create(w.Member, "gone", "raw")).Str("id");
        var half = new TaskCompletionSource();
        var go = new TaskCompletionSource();
        var upload = Task.Run(async () =>
        {
            using var content = new Paused(new byte[1 << 20], half, go.Task);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await w.Member.PutAsync($"/v1/images/{id}/file", content);
            return (int)response.StatusCode;
        });
        await half.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(204, (await w.Member.Delete($"/v1/images/{id}")).Status);
        go.SetResult();

        Assert.Equal(404, await upload.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(BlobFiles(w));
        Assert.Empty((await w.Member.Get("/v1/images")).Body.EnumerateArray());
    }

    /// <summary>A body sent in two halves: the second once <paramref name="go"/> completes.</summary>
    private sealed class Paused(byte[] bytes, TaskCompletionSource half, Task go) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await stream.FlushAsync();
            half.SetResult();
            await go;
            await stream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }

    private static async Task<(int, string)> ErrorOf(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        return (status, body.ErrorCode());
    }

    private static async Task<(int, string)> FieldOf(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        return (status, body.ErrorField());
    }
}

public sealed class SqliteImageTests : ImageSuite
{
    protected override Task<string> NewStoreAsync() => Task.FromResult(Dir.Sub($"isola-{Guid.NewGuid():N}.db"));
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresImageTests(PostgresServer server) : ImageSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
