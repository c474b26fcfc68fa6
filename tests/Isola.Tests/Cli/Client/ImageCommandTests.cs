using System.Text.Json;
using Isola.Cli;
using Isola.Cli.Client;
using Isola.Tests.Server;
using Isola.Tests.Server.Images;

namespace Isola.Tests.Cli.Client;

/// <summary>isola image create (the image made, then its file uploaded; a failed upload deletes it again), list, show and delete against a real API server.</summary>
public sealed class ImageCommandTests : IDisposable
{
    private readonly ImageFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static async Task<JsonElement> JsonAs(ClientWorld w, string token, params string[] args)
    {
        var (exit, output, error) = await w.RunAs(token, [.. args, "-f", "json"]);
        Assert.True(exit == ExitCodes.Ok, $"isola {string.Join(' ', args)} exited {exit}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Fact]
    public async Task An_image_is_created_with_its_file_listed_shown_and_deleted()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0);
        var member = await w.MemberOf("tenant-a");
        var qcow2 = await _files.Qcow2Async("cirros.qcow2", "64M");

        var (exit, output, error) = await w.RunAs(member, "image", "create", "--file", qcow2, "--disk-format", "qcow2", "--min-disk", "1", "cirros");

        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Matches(@"│ status\s+│ active\s+│", output);
        Assert.Matches($@"│ checksum\s+│ {ImageFiles.Sha256(qcow2)}\s+│", output);
        Assert.Matches(@"│ virtualSize\s+│ 67108864\s+│", output);
        var raw = _files.Raw("disk.raw", 1 << 20);
        var created = await JsonAs(w, member, "image", "create", "--file", raw, "--disk-format", "raw", "disk");
        Assert.Equal(("active", 1L << 20, ImageFiles.Sha256(raw)), (created.Str("status"), created.GetProperty("size").GetInt64(), created.Str("checksum")));

        (exit, output, _) = await w.RunAs(member, "image", "list", "-f", "value", "-c", "name", "-c", "diskFormat", "-c", "status");
        Assert.Equal((ExitCodes.Ok, "cirros qcow2 active\ndisk raw active"), (exit, output.Trim()));
        var shown = await JsonAs(w, member, "image", "show", "cirros");
        Assert.Equal((ImageFiles.Sha256(qcow2), 1), (shown.Str("checksum"), shown.GetProperty("minDisk").GetInt32()));

        (exit, _, error) = await w.RunAs(member, "image", "delete", "cirros", "disk");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.RunAs(member, "image", "show", "cirros");
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Empty((await JsonAs(w, member, "image", "list")).EnumerateArray());
    }

    [Fact]
    public async Task An_upload_the_server_refuses_deletes_the_queued_image_and_exits_with_the_refusals_code()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 0, configure: s => s with { MaxImageBytes = 1 << 20 });
        var member = await w.MemberOf("tenant-a");

        var (exit, _, error) = await w.RunAs(member, "image", "create", "--file", await _files.OverlayAsync(), "--disk-format", "qcow2", "over");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("image over: the upload failed: ", error, StringComparison.Ordinal);
        Assert.Contains("(field: backing-filename, code: invalid); the queued image was deleted", error, StringComparison.Ordinal);

        (exit, _, error) = await w.RunAs(member, "image", "create", "--file", _files.Raw("big.raw", 8 << 20), "--disk-format", "raw", "big");
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("(field: body, code: too-large); the queued image was deleted", error, StringComparison.Ordinal);
        Assert.Empty((await JsonAs(w, member, "image", "list")).EnumerateArray());

        // Refused before anything is made: no file, a format the API has no word for, a public image by a member.
        (exit, _, error) = await w.RunAs(member, "image", "create", "--file", _files.Dir + "/none.raw", "--disk-format", "raw", "none");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--file: cannot read", error, StringComparison.Ordinal);
        (exit, _, _) = await w.RunAs(member, "image", "create", "--file", _files.Raw("a.raw", 4096), "--disk-format", "vmdk", "a");
        Assert.Equal(ExitCodes.Usage, exit);
        (exit, _, error) = await w.RunAs(member, "image", "create", "--file", _files.Raw("b.raw", 4096), "--disk-format", "raw", "--public", "b");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("(field: visibility, code: invalid)", error, StringComparison.Ordinal);
        Assert.Empty((await JsonAs(w, member, "image", "list")).EnumerateArray());
        // An admin makes it public, for a project.
        var pub = await JsonAs(w, w.AdminToken, "image", "create", "--file", _files.Raw("c.raw", 4096), "--disk-format", "raw", "--public", "--project", "tenant-a", "c");
        Assert.Equal(("public", "active"), (pub.Str("visibility"), pub.Str("status")));
    }

    [Fact]
    public void Upload_progress_is_one_line_rewritten_every_5_percent_and_none_for_small_files_or_no_terminal()
    {
        var error = new StringWriter();
        var progress = new UploadProgress(error, "image debian", 100L << 20);
        for (long sent = 0; sent <= 100L << 20; sent += 1L << 20)
            progress.Sent(sent);
        progress.Sent(100L << 20);
        var shown = error.ToString();
        Assert.Equal(21, shown.Split('\r', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("\rimage debian: 0 B of 100.0 MiB (0%)\rimage debian: 5.0 MiB of 100.0 MiB (5%)", shown, StringComparison.Ordinal);
        Assert.EndsWith("\rimage debian: 100.0 MiB of 100.0 MiB (100%)\n", shown, StringComparison.Ordinal);
        Assert.Null(UploadProgress.For(new CliConsole(new StringWriter(), error, interactive: true), "x", UploadProgress.Worth - 1));
        Assert.Null(UploadProgress.For(new CliConsole(new StringWriter(), error, interactive: false), "x", 1L << 30));
        Assert.NotNull(UploadProgress.For(new CliConsole(new StringWriter(), error, interactive: true), "x", UploadProgress.Worth));
    }
}
