using System.Security.Cryptography;
using Isola.Agent.Driver;
using Isola.Host.Commands;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Facets;

/// <summary>
/// The simulated host's <c>qemu-img create</c> and <c>genisoimage</c> kept honest: one scenario of the
/// agent's storage steps against the real tools (on this machine's files) and against the simulated
/// host, with the same outcome step by step (done, or the driver's error) and the same files left.
/// </summary>
public sealed class StorageSimulatorHonestyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed class Bytes(byte[] content) : IImageSource
    {
        public Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct) => destination.WriteAsync(content, ct).AsTask();
    }

    /// <summary>Runs the scenario with the storage given; answers each step's outcome and the files under the instances and cache directories.</summary>
    private static async Task<(List<string> Outcomes, List<string> Files)> ScenarioAsync(InstanceStorage storage, string local, string instances, string state, byte[] qcow2)
    {
        var image = new ImageRef("img-1", "qcow2", Convert.ToHexStringLower(SHA256.HashData(qcow2)), qcow2.Length);
        var drive = ConfigDrive.For("00000000-0000-0000-0000-000000000001", "vm1", [], "#!/bin/sh\n", "network:\n  version: 2\n");
        var outcomes = new List<string>();
        async Task Step(string name, Func<Task> step)
        {
            try
            {
                await step();
                outcomes.Add($"{name}: done");
            }
            catch (DriverException)
            {
                outcomes.Add($"{name}: driver error");
            }
        }
        var dir = $"{instances}/isola-00000000-0000-0000-0000-000000000001";
        await Step("disk over an image not cached", () => storage.CreateDiskAsync(new InstanceDisk($"{dir}/disk.qcow2", 1, image), default));
        await Step("fetch", () => storage.FetchImageAsync(image, default));
        await Step("disk over the cached image", () => storage.CreateDiskAsync(new InstanceDisk($"{dir}/disk.qcow2", 1, image), default));
        await Step("the same disk again", () => storage.CreateDiskAsync(new InstanceDisk($"{dir}/disk.qcow2", 1, image), default));
        await Step("blank disk", () => storage.CreateDiskAsync(new InstanceDisk($"{instances}/isola-00000000-0000-0000-0000-000000000002/disk.qcow2", 1, null), default));
        await Step("config drive", () => storage.WriteConfigDriveAsync($"{dir}/config.iso", drive, default));
        var files = new[] { instances, state }.SelectMany(d => Directory.Exists(Path.Join(local, d))
                ? Directory.EnumerateFiles(Path.Join(local, d), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Path.Join(local, d), f))
                : [])
            .Order(StringComparer.Ordinal).ToList();
        return (outcomes, files);
    }

    [SkippableFact]
    public async Task The_simulated_qemu_img_and_genisoimage_answer_the_storage_steps_as_the_real_tools_do()
    {
        Skip.IfNot(File.Exists("/usr/bin/qemu-img") && File.Exists("/usr/bin/genisoimage"), "qemu-img or genisoimage is missing (Debian: qemu-utils, genisoimage)");
        var qcow2 = Path.Join(_dir.Path, "base.qcow2");
        var made = await new ProcessCommandRunner(TimeSpan.FromSeconds(60)).RunAsync(["qemu-img", "create", "-q", "-f", "qcow2", qcow2, "16M"]);
        Assert.True(made.Succeeded, made.StandardError);
        var bytes = await File.ReadAllBytesAsync(qcow2);

        // Real: the host's root is /, the paths are this machine's.
        var realInstances = _dir.Sub("real-instances");
        var realState = _dir.Sub("real-state");
        var real = await ScenarioAsync(new InstanceStorage(new ProcessCommandRunner(TimeSpan.FromSeconds(60)), "/", realState, realInstances, new Bytes(bytes)),
            "/", realInstances, realState, bytes);

        // Simulated: the same host paths, under the simulated host's root.
        var root = _dir.Sub("sim-root");
        var host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")), root);
        var sim = await ScenarioAsync(new InstanceStorage(host, root, "/state", "/instances", new Bytes(bytes)), root, "/instances", "/state", bytes);

        Assert.Equal(real.Outcomes, sim.Outcomes);
        Assert.Equal(real.Files, sim.Files);
        Assert.Contains("disk over an image not cached: driver error", real.Outcomes);
        Assert.Contains("the same disk again: driver error", real.Outcomes); // never over a disk that is there
    }
}
