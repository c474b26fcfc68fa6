using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola image create|list|show|delete</c>: /v1/images; create makes the image and uploads its file.</summary>
internal static class ImageCommands
{
    private static readonly Column[] ListColumns =
        [Column.Of("id"), Column.Of("name"), Column.Of("diskFormat"), Column.Of("status"), Column.Of("size"), Column.Of("visibility")];

    private static readonly Column[] Fields =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("diskFormat"), Column.Of("status"), Column.Of("size"),
        Column.Of("virtualSize"), Column.Of("checksum"), Column.Of("minDisk"), Column.Of("visibility"), Column.Of("created"), Column.Of("updated"),
    ];

    public static Command Create(CliConsole console)
    {
        var group = new Command("image", "Images: disks (raw, qcow2) servers boot from, through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "images", "image", ListColumns, filters:
            [.. ListFlag.Name("image"), new("--status", "status", "Only images queued (no bytes yet) or active")]));
        group.Subcommands.Add(ResourceVerbs.Show(console, "images", "image", Fields));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "images", "image"));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The image's name" };
        var file = new Option<string>("--file") { Description = "The disk image file to upload", Required = true };
        var format = new Option<string>("--disk-format") { Description = "qcow2 or raw: what the file is (the server checks it with qemu-img)", Required = true };
        format.AcceptOnlyFromAmong("qcow2", "raw");
        var minDisk = new Option<int?>("--min-disk") { Description = "The smallest root disk (GiB) a server booting it needs (default 0)" };
        var visible = new Option<bool>("--public") { Description = "Seen by every project (admin)" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var verb = ClientCommand.Create("create", "Create an image and upload its file", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { file, format, minDisk, visible, project })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var path = parse.GetValue(file)!;
            FileStream bytes;
            try
            {
                bytes = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return console.Fail(ExitCodes.Usage, $"--file: cannot read {path}: {e.Message}");
            }
            await using var _ = bytes;
            // The upload says its length: a pipe or a device has none.
            if (!bytes.CanSeek)
                return console.Fail(ExitCodes.Usage, $"--file: {path} is not a regular file");
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["diskFormat"] = parse.GetValue(format) }
                .With("minDisk", parse.GetValue(minDisk))
                .With("visibility", parse.GetValue(visible) ? "public" : null)
                .With("project", parse.GetValue(project));
            var id = JsonDocument.Parse(await api.PostAsync("/v1/images", body, ct)).RootElement.GetProperty("id").GetString()!;
            return await UploadAsync(console, api, output, parse.GetValue(name)!, id, bytes, ct);
        });
        return verb.Command;
    }

    /// <summary>The file's bytes to the queued image; when that fails, the image is deleted again (nothing half-made stays) and the upload's failure is the exit code.</summary>
    private static async Task<int> UploadAsync(CliConsole console, ApiClient api, ResultWriter output, string name, string id, FileStream bytes, CancellationToken ct)
    {
        var length = bytes.Length;
        var progress = UploadProgress.For(console, $"image {name}", length);
        try
        {
            output.Show(await api.PutBytesAsync($"{ApiClient.PathOf("images", id)}/file", new CountingStream(bytes, sent => progress?.Sent(sent)), length, ct));
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is ApiCallException or IOException or OperationCanceledException)
        {
            var why = e is ApiCallException call ? call.Describe() : e is OperationCanceledException ? "interrupted" : e.Message;
            string cleanup;
            try
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await api.DeleteAsync(ApiClient.PathOf("images", id), limit.Token);
                cleanup = "the queued image was deleted";
            }
            catch (Exception d) when (d is ApiCallException or IOException or OperationCanceledException)
            {
                cleanup = $"deleting the queued image failed too ({(d is ApiCallException dc ? dc.Describe() : d.Message)}): 'isola image delete {id}'";
            }
            return console.Fail(e is ApiCallException failed ? failed.ExitCode : ExitCodes.Failed, $"image {name}: the upload failed: {why}; {cleanup}");
        }
    }
}
