using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Lab;
using Isola.Lab.Guest;
using Isola.Rendering;
using Isola.Rendering.Boot;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Tests.Agent;
using Isola.Tests.Lab;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>The machine's libvirtd and Isola's small guest image, built once for the class.</summary>
public sealed class RealVmFixture : IAsyncLifetime
{
    public LibvirtDaemon Libvirt { get; } = new();

    public TempDir Dir { get; } = new();

    public string Image => Dir.Sub("guest.qcow2");

    public string? Unavailable { get; private set; }

    public async Task InitializeAsync()
    {
        await Libvirt.InitializeAsync();
        Unavailable = Libvirt.Unavailable ?? GuestImage.Missing() ?? (File.Exists("/usr/bin/genisoimage") ? null : "genisoimage is missing (Debian: genisoimage)");
        if (Unavailable is null)
            await GuestImage.BuildAsync(Image);
    }

    public async Task DisposeAsync()
    {
        await Libvirt.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>
/// A real VM from Isola's own parts: the agent's facets and Linux driver against the machine's libvirtd
/// and QEMU (TCG where KVM does not work, as here) boot a server from an image — fetched into the host's
/// cache and checked, a qcow2 overlay as its disk, Isola's NoCloud config drive — and the guest reads the
/// drive (its instance id and hostname, its user-data run), its vCPU and emulator threads carry the
/// plan's pins, its disk keeps what it wrote across a stop and start, and after delete nothing of it is left.
/// </summary>
[Collection(LabHostFixture.Collection)] // a TCG guest takes a core, as the lab hosts do: not beside them
public sealed class GuestBootTests(RealVmFixture vm, ITestOutputHelper output) : IClassFixture<RealVmFixture>
{
    private sealed class FileSource(string path) : IImageSource
    {
        public async Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct)
        {
            await using var file = File.OpenRead(path);
            await file.CopyToAsync(destination, ct);
        }
    }

    private const string UserData = """
        #!/bin/sh
        if [ -f /disk/marker ]; then echo "isola-guest: marker kept $(cat /disk/marker)"; else echo "written-at-first-boot" > /disk/marker; sync; echo "isola-guest: marker written"; fi
        """;

    [SkippableFact]
    public async Task A_server_boots_from_its_image_reads_its_config_drive_keeps_its_disk_and_leaves_nothing_when_it_goes()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        var instances = vm.Dir.Sub("instances");
        var state = vm.Dir.Sub("agent");
        var discovered = await new HostDiscovery("/", CommandRunners.ForRoot("/"), HostConfig.Empty).DiscoverAsync();
        var domainType = discovered.Virt.DomainType == HostVirtualization.Kvm && await LabKernel.KvmUsableAsync() ? HostVirtualization.Kvm : HostVirtualization.Qemu;
        var host = discovered with { Virtualization = discovered.Virt with { DomainType = domainType, InstancesDirectory = instances } };

        var bytes = await File.ReadAllBytesAsync(vm.Image);
        var image = new ImageRef("guest-1", "qcow2", Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
        var flavor = Flavor.Of("tiny", 1, 256, 1);
        var fleet = new FleetState();
        fleet.AddHost(host);
        var placement = new Placer(fleet).Place(PlacementRequest.Create("vm1", flavor, [])).Placement ?? throw new InvalidOperationException("no placement");
        var serverId = Guid.NewGuid().ToString();
        var plan = new ServerSpec(flavor, [], new GuestBoot(image, UserData, ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGuestBootTest test@isola"])).Plan(serverId, placement, host);
        var driver = new HostDriver(new ProcessCommandRunner(TimeSpan.FromMinutes(2)), "/", state, LibvirtDaemon.Uri, instances, new FileSource(vm.Image));
        var applied = new AppliedStore(state);
        var server = Wire.Server(serverId, "vm1", "BUILD", "running", [], plan);
        var console = plan.Files!.ConsoleLog;
        try
        {
            var steps = await CycleAsync(driver, applied, Wire.Host(host.Hostname, 1, [server]));
            output.WriteLine(string.Join(' ', steps.Select(s => s.GetType().Name)));
            Assert.Equal(
                ["FetchImage", "CreateDisk", "WriteConfigDrive", "Define", "StartPaused"],
                steps.Select(s => s.GetType().Name).Where(n => n is not ("Remember" or "Resume" or "DefineXml")).Take(5));
            var ready = await ConsoleAsync(console, "marker written");
            Assert.Contains($"isola-guest: ready instance-id={serverId} hostname=vm1", ready, StringComparison.Ordinal);
            Assert.Contains("isola-guest: config drive /dev/vdb", ready, StringComparison.Ordinal);
            Assert.Contains("isola-guest: user-data exited 0", ready, StringComparison.Ordinal);

            // The threads carry the plan's pins: each vCPU thread (CPU n/TCG or CPU n/KVM) and the emulator's.
            var xml = XDocument.Parse(plan.DomainXml);
            var vcpus = xml.Descendants("vcpupin").ToDictionary(p => int.Parse(p.Attribute("vcpu")!.Value), p => p.Attribute("cpuset")!.Value);
            var floating = xml.Descendants("vcpu").Single().Attribute("cpuset")?.Value;
            var emulator = xml.Descendants("emulatorpin").Single().Attribute("cpuset")!.Value;
            var pid = driver.QemuPid(plan.Server) ?? throw new InvalidOperationException("no QEMU pid");
            var threads = Threads(pid);
            output.WriteLine(string.Join('\n', threads.Select(t => $"{t.Name}: {t.Cpus}")));
            var vcpuThreads = threads.Where(t => Regex.IsMatch(t.Name, @"^CPU \d+/(TCG|KVM)$")).ToList();
            Assert.Single(vcpuThreads);
            Assert.Equal(Cpus(vcpus.GetValueOrDefault(0) ?? floating!), Cpus(vcpuThreads[0].Cpus));
            Assert.Equal(Cpus(emulator), Cpus(threads.Single(t => t.Tid == pid).Cpus));

            // Stopped and started again (a new QEMU), the disk keeps what the guest wrote.
            await driver.DestroyAsync(plan.Server);
            File.Delete(console);
            await CycleAsync(driver, applied, Wire.Host(host.Hostname, 2, [server]));
            Assert.Contains("isola-guest: marker kept written-at-first-boot", await ConsoleAsync(console, "marker kept"), StringComparison.Ordinal);

            // Deleted: no domain, no QEMU, no instance directory, no cached image.
            await CycleAsync(driver, applied, Wire.Host(host.Hostname, 3, []));
            Assert.DoesNotContain(plan.Server, (await LibvirtDaemon.VirshAsync("list", "--all", "--name")).StandardOutput, StringComparison.Ordinal);
            await Eventually.UntilAsync(() => Task.FromResult(Process.GetProcesses().Any(p => p.Id == pid)), alive => !alive, "QEMU gone");
            Assert.False(Directory.Exists(plan.Files.Directory));
            Assert.Empty(driver.Storage.CachedImages());
        }
        finally
        {
            await LibvirtDaemon.VirshAsync("destroy", plan.Server);
            await LibvirtDaemon.VirshAsync("undefine", plan.Server);
        }
    }

    /// <summary>
    /// The agent's facets for the server; not the host-wide ones (irqbalance's file, systemd's drop-ins): on this machine they
    /// would change the test machine's own configuration, and they have their own tests on simulated hosts.
    /// </summary>
    private static readonly IReadOnlyList<IHostFacet> Facets = HostFacets.All.Where(f => f is not (IrqbalanceFacet or CpuIsolationFacet)).ToList();

    /// <summary>One agent cycle's work, as the agent does it (read, plan, apply; twice when a domain started, for the resume).</summary>
    private static async Task<List<Step>> CycleAsync(HostDriver driver, AppliedStore applied, DesiredHost desired)
    {
        var done = new List<Step>();
        for (var pass = 0; pass < 3; pass++)
        {
            var records = applied.Load();
            var actual = await Reconciler.ReadAsync(Facets, desired, records, driver, default);
            var steps = Reconciler.Plan(Facets, desired, actual, records);
            if (steps.Count == 0)
                break;
            foreach (var (step, facet) in steps)
            {
                await facet.ApplyAsync(step, new AgentHands(driver, applied), default);
                done.Add(step);
            }
        }
        return done;
    }

    /// <summary>The console log once it holds <paramref name="line"/> (the guest boots in its own time).</summary>
    private static Task<string> ConsoleAsync(string path, string line) =>
        Eventually.UntilAsync(() => Task.FromResult(File.Exists(path) ? File.ReadAllText(path) : ""), text => text.Contains(line, StringComparison.Ordinal), $"'{line}' on the console");

    private sealed record TaskCpus(int Tid, string Name, string Cpus);

    private static List<TaskCpus> Threads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Select(d => new TaskCpus(int.Parse(Path.GetFileName(d)), File.ReadAllText(Path.Join(d, "comm")).Trim(),
            File.ReadLines(Path.Join(d, "status")).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim())).ToList();

    private static Isola.Domain.Cpu.CpuSet Cpus(string text) => Isola.Domain.Cpu.CpuSet.Parse(text);
}
