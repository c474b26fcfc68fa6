using System.Security.Cryptography;
using System.Text.Json;
using Isola.Agent.Driver;
using Isola.Host.Commands;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Rendering.Boot;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>
/// The destination's half of a move between hosts (<see cref="InstanceStorage.ReceiveDiskAsync"/>) against the real
/// <c>qemu-img</c> and against the simulated host's, in the same scenario: the disk the source sent (an overlay whose backing
/// file is the source's copy of the image) arrives backed by this host's copy and grown to the plan's size; one whose bytes
/// are not what the source sent is refused and leaves no disk. The simulator is kept honest by answering as the real one does.
/// </summary>
public sealed class DiskReceiveTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Serves one disk's bytes as the controller would, with the SHA-256 it says the source sent.</summary>
    private sealed class Carrier(byte[] disk, string? sha256) : IImageSource, IDiskCarrier
    {
        public Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct) => throw new InvalidOperationException("the image is cached");

        public Task SendDiskAsync(string serverId, Stream disk, CancellationToken ct) => throw new InvalidOperationException("not the source");

        public async Task<string?> ReceiveDiskAsync(string serverId, Stream destination, CancellationToken ct)
        {
            await destination.WriteAsync(disk, ct);
            return sha256;
        }
    }

    private static readonly ImageRef Image = new("img1", "qcow2", "unused", 0);

    /// <summary>On a host whose root is <paramref name="root"/> (paths inside it are host paths), the sent disk received: what the disk says it is backed by, and its size in GiB.</summary>
    private async Task<(string Backing, int SizeGiB)> ReceiveAsync(ICommandRunner runner, string root, bool simulated, Func<byte[], string?> checksum)
    {
        string Local(string hostPath) => simulated ? Path.Join(root, hostPath) : hostPath;
        var hostBase = simulated ? "" : _dir.Path;
        var source = Path.Join(hostBase, "/src/images/img1");
        var dest = Path.Join(hostBase, "/dst/state/images/img1");
        Directory.CreateDirectory(Path.GetDirectoryName(Local(source))!);
        Directory.CreateDirectory(Path.GetDirectoryName(Local(dest))!);
        // The image on both hosts, and the source's disk over its own copy.
        Assert.True((await runner.RunAsync(["qemu-img", "create", "-q", "-f", "qcow2", source, "1G"])).Succeeded);
        File.Copy(Local(source), Local(dest));
        var sent = Path.Join(hostBase, "/src/disk.qcow2");
        Assert.True((await runner.RunAsync(["qemu-img", "create", "-q", "-f", "qcow2", "-b", source, "-F", "qcow2", sent, "1G"])).Succeeded);
        var bytes = await File.ReadAllBytesAsync(Local(sent));
        var storage = new InstanceStorage(runner, simulated ? root : "/", Path.Join(hostBase, "/dst/state"), Path.Join(hostBase, "/dst/instances"),
            new Carrier(bytes, checksum(bytes)));
        var disk = new InstanceDisk(Path.Join(hostBase, "/dst/instances/isola-s1/disk.qcow2"), 2, Image);
        await storage.ReceiveDiskAsync("s1", disk, default);
        if (simulated)
        {
            var text = File.ReadAllText(Local(disk.Path)).Split(' ');
            return (text[4], int.Parse(text[2].TrimEnd('G'), System.Globalization.CultureInfo.InvariantCulture));
        }
        var info = JsonDocument.Parse((await runner.RunAsync(["qemu-img", "info", "--output=json", disk.Path])).StandardOutput).RootElement;
        return (info.GetProperty("backing-filename").GetString()!, (int)(info.GetProperty("virtual-size").GetInt64() >> 30));
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private SimulatedHost Simulated(string root) => new(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, root);

    [SkippableFact]
    public async Task A_received_disk_is_backed_by_this_hosts_image_and_grown_alike_by_the_real_qemu_img_and_the_simulated_one()
    {
        Skip.IfNot(File.Exists("/usr/bin/qemu-img"), "qemu-img is missing (Debian: qemu-utils)");
        var real = await ReceiveAsync(new ProcessCommandRunner(TimeSpan.FromMinutes(1)), "/", simulated: false, Sha);
        var root = _dir.Sub("sim-root");
        var simulated = await ReceiveAsync(Simulated(root), root, simulated: true, Sha);
        Assert.Equal((Path.Join(_dir.Path, "/dst/state/images/img1"), 2), real);
        // The same answer, with the simulated host's paths (under its root) for the real one's.
        Assert.Equal(("/dst/state/images/img1", 2), simulated);
    }

    [SkippableFact]
    public async Task A_disk_that_arrives_other_than_sent_is_refused_and_leaves_nothing_on_either()
    {
        Skip.IfNot(File.Exists("/usr/bin/qemu-img"), "qemu-img is missing (Debian: qemu-utils)");
        var e = await Assert.ThrowsAsync<DriverException>(() => ReceiveAsync(new ProcessCommandRunner(TimeSpan.FromMinutes(1)), "/", simulated: false, _ => new string('0', 64)));
        Assert.Contains("its source sent 0000", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.EnumerateFiles(Path.Join(_dir.Path, "dst/instances"), "*", SearchOption.AllDirectories).Any());
        var root = _dir.Sub("sim-root");
        var s = await Assert.ThrowsAsync<DriverException>(() => ReceiveAsync(Simulated(root), root, simulated: true, _ => new string('0', 64)));
        // The same refusal (its own bytes' hash: a real qcow2 and the simulated one's text differ).
        static string Said(string m) => System.Text.RegularExpressions.Regex.Replace(m, "SHA-256 [0-9a-f]{64};", "SHA-256 …;");
        Assert.Equal(Said(e.Message), Said(s.Message));
        Assert.False(Directory.EnumerateFiles(Path.Join(root, "dst/instances"), "*", SearchOption.AllDirectories).Any());
    }
}
