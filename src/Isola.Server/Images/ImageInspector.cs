using System.Text.Json;
using Isola.Host.Commands;
using Isola.Server.Api;

namespace Isola.Server.Images;

/// <summary>What qemu-img found in an upload: the disk's virtual size, and every rule the file breaks (none: it may become the image).</summary>
internal sealed record ImageInspection(long VirtualSize, IReadOnlyList<FieldError> Problems);

/// <summary>
/// Checks an uploaded file with <c>qemu-img info</c> before it becomes an image: it is of the declared
/// format, and it is one self-contained file — no backing file, no qcow2 external data file (either would
/// make a host's QEMU read a file the image names: another image, or any file on the host).
/// </summary>
internal sealed class ImageInspector(ICommandRunner runner)
{
    /// <summary>How long one qemu-img may take (it reads headers and tables, not the data).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public const string Raw = "raw";
    public const string Qcow2 = "qcow2";

    /// <summary>
    /// The limits qemu-img runs under: 1 GiB of address space and 30 s of CPU, as Nova and Glance run it on
    /// images users give (a crafted qcow2 can make <c>qemu-img info</c> take memory without bound: CVE-2015-5162).
    /// </summary>
    private static readonly string[] Limits = ["prlimit", "--as=1073741824", "--cpu=30"];

    /// <summary>
    /// Equivalent to: <c>prlimit --as=1073741824 --cpu=30 qemu-img info --output=json -f FORMAT FILE</c>, or
    /// with no format <c>... qemu-img info --output=json FILE</c> (qemu-img probes it). Neither opens a backing file.
    /// </summary>
    public static IReadOnlyList<string> InfoArgv(string path, string? format) =>
        format is null ? [.. Limits, "qemu-img", "info", "--output=json", path] : [.. Limits, "qemu-img", "info", "--output=json", "-f", format, path];

    /// <summary>
    /// The file read as <paramref name="diskFormat"/>: a qcow2 that does not open as qcow2, a raw that qemu-img
    /// probes as another format (a qcow2 declared raw would otherwise boot as its header bytes, or, where a
    /// format is probed, with its backing file), a backing file or an external data file are problems.
    /// Throws <see cref="InvalidOperationException"/> when qemu-img cannot be run at all.
    /// </summary>
    public async Task<ImageInspection> InspectAsync(string path, string diskFormat, CancellationToken ct)
    {
        var (declared, failure) = await InfoAsync(path, diskFormat, ct);
        if (declared is null)
            return new(0, [failure!]);
        var problems = new List<FieldError>();
        if (declared.BackingFile is { } backing)
            problems.Add(new("backing-filename", $"the image has a backing file ({backing}): an image is one self-contained file; flatten it first (qemu-img convert -O {diskFormat})"));
        if (declared.DataFile is { } data)
            problems.Add(new("data-file", $"the qcow2 image keeps its data in an external file ({data}): an image is one self-contained file; convert it (qemu-img convert -O qcow2)"));
        if (diskFormat == Raw)
        {
            var (probed, _) = await InfoAsync(path, null, ct);
            if (probed is null)
                problems.Add(new("diskFormat", "qemu-img takes the file for an image of another format and cannot open it; declare its format, or convert it to raw"));
            else if (probed.Format != Raw)
                problems.Add(new("diskFormat", $"the file is a {probed.Format} image (qemu-img probed its format), not raw: declare diskFormat {probed.Format}, or convert it (qemu-img convert -O raw)"));
        }
        return new(declared.VirtualSize, problems);
    }

    /// <summary>qemu-img's answer read, or why the file did not open as <paramref name="format"/>.</summary>
    private async Task<(Info? Info, FieldError? Failure)> InfoAsync(string path, string? format, CancellationToken ct)
    {
        var argv = InfoArgv(path, format);
        var result = await runner.RunAsync(argv, ct);
        if (result.ExitCode == CommandResult.NotFound)
            throw new InvalidOperationException($"qemu-img cannot be run on the server (Debian: qemu-utils): {result.StandardError.Trim()}");
        if (result.ExitCode == CommandResult.TimedOut)
            return (null, new("body", $"qemu-img could not read the image within {Timeout.TotalSeconds:0} s"));
        if (!result.Succeeded)
            return (null, new("diskFormat", $"the file is not a {format} image: {FirstLine(result.StandardError)}"));
        return (Parse(result.StandardOutput, argv), null);
    }

    private sealed record Info(string Format, long VirtualSize, string? BackingFile, string? DataFile);

    private static Info Parse(string json, IReadOnlyList<string> argv)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string? data = null;
            if (root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var d) && d.TryGetProperty("data-file", out var file))
                data = file.GetString();
            return new Info(root.GetProperty("format").GetString()!, root.GetProperty("virtual-size").GetInt64(),
                root.TryGetProperty("backing-filename", out var backing) ? backing.GetString() : null, data);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidOperationException($"`{string.Join(' ', argv)}` printed what Isola cannot read: {e.Message}", e);
        }
    }

    /// <summary>qemu-img's message without its program name and the server's path.</summary>
    private static string FirstLine(string stderr)
    {
        var line = stderr.Trim().Split('\n')[0].Trim();
        var cut = line.IndexOf(": ", StringComparison.Ordinal);
        // "qemu-img: Could not open '/srv/.../.id.x.upload': Image is not in qcow2 format" -> "Image is not in qcow2 format"
        var last = line.LastIndexOf("': ", StringComparison.Ordinal);
        return last >= 0 ? line[(last + 3)..] : cut >= 0 ? line[(cut + 2)..] : line;
    }
}
