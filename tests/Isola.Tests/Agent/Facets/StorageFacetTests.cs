using System.Security.Cryptography;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Rendering;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;
using Isola.Rendering.Libvirt;
using Isola.Domain.Topology;

namespace Isola.Tests.Agent.Facets;

/// <summary>The storage facet on a simulated host: the image cached once and checked, the disk and config drive made once, what no server holds swept.</summary>
public sealed class StorageFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly StorageFacet _facet = new();
    private readonly Bytes _images = new();

    public void Dispose() => _w.Dispose();

    /// <summary>An image source that serves bytes by image id, counting the fetches.</summary>
    private sealed class Bytes : IImageSource
    {
        public Dictionary<string, byte[]> Images { get; } = [];

        public int Fetches { get; private set; }

        public async Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct)
        {
            Fetches++;
            await destination.WriteAsync(Images[image.Id], ct);
        }
    }

    private static readonly byte[] Content = "an image's bytes, not a real qcow2"u8.ToArray();

    private static ImageRef Image(string id = "img-1", string? checksum = null) =>
        new(id, "qcow2", checksum ?? Convert.ToHexStringLower(SHA256.HashData(Content)), Content.Length);

    private HostPlan Plan(ImageRef? image, string domain = FacetWorld.Domain)
    {
        var files = InstanceFiles.Of(HostVirtualization.Default, domain);
        return _w.Plan() with
        {
            Server = domain,
            Disk = new InstanceDisk(files.Disk, 10, image),
            ConfigDrive = ConfigDrive.For("00000000-0000-0000-0000-000000000001", "vm1", ["ssh-ed25519 AAAA test"], "#!/bin/sh\necho hi\n", "network:\n  version: 2\n"),
            Files = files,
        };
    }

    private AgentHands Hands => new(new HostDriver(_w.Host, _w.Root, _w.State, images: _images), _w.Store);

    private string Local(string hostPath) => Path.Join(_w.Root, hostPath);

    private async Task ApplyAsync(IEnumerable<Step> steps)
    {
        foreach (var step in steps)
            await _facet.ApplyAsync(step, Hands, default);
    }

    [Fact]
    public async Task A_new_servers_image_is_fetched_once_its_disk_made_over_it_and_its_config_drive_written_once()
    {
        _images.Images["img-1"] = Content;
        var plan = Plan(Image());
        var desired = FacetWorld.Desired(FacetWorld.Server(plan));
        var context = await _w.ContextAsync(_facet, desired);
        var steps = _facet.PlanServer(context, await _w.ReadAsync(_facet, desired)).ToList();
        Assert.Equal([typeof(StorageFacet.FetchImage), typeof(StorageFacet.CreateDisk), typeof(StorageFacet.WriteConfigDrive)], steps.Select(s => s.GetType()));
        await ApplyAsync(steps);

        var cached = Hands.Driver.Storage.CachedImage(Image());
        Assert.Equal(Content, File.ReadAllBytes(Local(cached)));
        Assert.Equal($"simulated qcow2 10G backing {cached} (qcow2)\n", File.ReadAllText(Local(plan.Disk!.Path)));
        var drive = File.ReadAllText(Local(plan.Files!.ConfigDrive));
        Assert.StartsWith("simulated iso9660 volume cidata\n== meta-data\n", drive, StringComparison.Ordinal);
        Assert.Contains("== user-data\n#!/bin/sh\necho hi\n== network-config\nnetwork:\n", drive, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Local(Path.Join(plan.Files.Directory, "config-drive")))); // the staged files are gone
        Assert.Equal(1, _images.Fetches);

        // Read again: everything is there, nothing to do — the disk is the guest's now.
        Assert.Empty(_facet.PlanServer(await _w.ContextAsync(_facet, desired), await _w.ReadAsync(_facet, desired)));

        // A second server from the same image makes its disk from the cache.
        var second = Plan(Image(), "isola-s2");
        var both = FacetWorld.Desired(FacetWorld.Server(plan), FacetWorld.Server(second, id: "s2"));
        var actual = await _w.ReadAsync(_facet, both);
        var again = _facet.PlanServer(ServerContext.Of(both.Servers[1], second, null, actual), actual).ToList();
        Assert.Equal([typeof(StorageFacet.CreateDisk), typeof(StorageFacet.WriteConfigDrive)], again.Select(s => s.GetType()));
        await ApplyAsync(again);
        Assert.Equal(1, _images.Fetches);
    }

    [Fact]
    public async Task An_image_that_arrives_other_than_it_is_is_the_drivers_error_and_leaves_nothing_in_the_cache()
    {
        _images.Images["img-1"] = Content;
        var wrong = Image(checksum: new string('0', 64));
        var e = await Assert.ThrowsAsync<DriverException>(() => _facet.ApplyAsync(new StorageFacet.FetchImage("s1", wrong), Hands, default));
        Assert.Contains($"image img-1 arrived as {Content.Length} bytes with SHA-256 {Image().Checksum}; it is {Content.Length} bytes with {wrong.Checksum}", e.Message, StringComparison.Ordinal);
        Assert.Empty(Hands.Driver.Storage.CachedImages());
        Assert.Empty(Directory.Exists(Local(Path.Join(_w.State, "images"))) ? Directory.GetFiles(Local(Path.Join(_w.State, "images"))) : []);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task An_image_id_that_is_not_a_plain_name_never_becomes_a_path(string id)
    {
        _images.Images[id] = Content;
        var e = await Assert.ThrowsAsync<DriverException>(() => _facet.ApplyAsync(new StorageFacet.FetchImage("s1", Image(id)), Hands, default));
        Assert.Contains("is not a plain name", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _images.Fetches);
    }

    [Fact]
    public async Task A_disk_over_an_image_the_cache_lacks_is_qemu_imgs_error()
    {
        var e = await Assert.ThrowsAsync<DriverException>(() => _facet.ApplyAsync(new StorageFacet.CreateDisk("s1", Plan(Image()).Disk!), Hands, default));
        Assert.Contains("Could not open", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Local(Plan(Image()).Disk!.Path)));
    }

    private static readonly string Held = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a1");
    private static readonly string NoPlan = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a2");
    private static readonly string Gone = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a3");
    private static readonly string Stray = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a4");
    private static readonly string Foreign = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a5");

    [Fact]
    public async Task A_defined_domain_whose_disk_is_gone_gets_no_new_disk_and_is_said()
    {
        var plan = Plan(null);
        await _w.Driver.DefineAsync(FacetWorld.Domain, plan.DomainXml);
        var desired = FacetWorld.Desired(FacetWorld.Server(plan, "ACTIVE"));
        var actual = await Reconciler.ReadAsync(HostFacets.All, desired, _w.Store.Load(), _w.Driver, default);
        var steps = _facet.PlanServer(ServerContext.Of(desired.Servers[0], plan, null, actual), actual).ToList();
        Assert.DoesNotContain(steps, s => s is StorageFacet.CreateDisk);
        Assert.Equal([$"server s1: its domain {FacetWorld.Domain} is defined but its disk {plan.Disk!.Path} is not there; the agent makes no new one under it"],
            _facet.Problems(desired, actual));
    }

    [Fact]
    public async Task The_sweep_removes_what_no_server_holds_once_its_domain_is_gone_and_keeps_the_rest()
    {
        _images.Images["img-1"] = Content;
        _images.Images["img-2"] = Content;
        var storage = Hands.Driver.Storage;
        foreach (var (domain, image) in new[] { (Held, "img-1"), (NoPlan, "img-1"), (Gone, "img-2"), (Stray, "img-2"), (Foreign, "img-2"), ("lost+found", "img-2") })
        {
            await storage.FetchImageAsync(Image(image), default);
            await storage.CreateDiskAsync(Plan(Image(image), domain).Disk!, default);
        }
        // libvirt has the gone server's domain (this cycle's take-down undefines it) and one Isola never made.
        await _w.Driver.DefineAsync(Gone, $"<domain type='kvm'><name>{Gone}</name></domain>");
        await _w.Driver.DefineAsync(Foreign, $"<domain type='kvm'><name>{Foreign}</name></domain>");
        _w.Store.Save(new AppliedServer("gone", Gone, []));
        _w.Store.Save(new AppliedServer("noplan", NoPlan, []));
        var held = FacetWorld.Server(Plan(Image("img-1"), Held), "ACTIVE", id: "held");
        var noPlan = FacetWorld.Server(null, "ACTIVE", id: "noplan");

        // The sweep plans after every facet read (the domain facet's reading comes after this facet's).
        Task<ActualHost> ReadAll(Isola.Contracts.Agent.DesiredHost d) => Reconciler.ReadAsync(HostFacets.All, d, _w.Store.Load(), _w.Driver, default);
        var desired = FacetWorld.Desired(held, noPlan);
        var actual = await ReadAll(desired);
        var steps = _facet.PlanSweep(desired, _w.Store.Load(), actual).ToList();
        // The gone server's removal is its own step (keyed by its id: it waits when its take-down failed); the stray's is the
        // directory's; what is not named as Isola names its domains (lost+found) is never Isola's.
        Assert.Equal([new StorageFacet.RemoveInstance("gone", Gone), new StorageFacet.RemoveInstance(Stray, Stray)], steps.OrderBy(s => s.Server == "gone" ? 0 : 1));

        // Without the plan-less server, the image no plan names goes too (img-2: only the gone and stray disks used it).
        var planned = FacetWorld.Desired(held);
        var sweep = _facet.PlanSweep(planned, _w.Store.Load(), await ReadAll(planned)).ToList();
        Assert.Contains(new StorageFacet.RemoveImage("img-2"), sweep);
        Assert.DoesNotContain(new StorageFacet.RemoveImage("img-1"), sweep);
        await ApplyAsync(steps.Concat(sweep).Distinct());
        Assert.Equal(new[] { Foreign, Held, "lost+found" }.Order(StringComparer.Ordinal), storage.InstanceDirectories());
        Assert.Equal(["img-1"], storage.CachedImages());
    }

    [Fact]
    public async Task The_sweep_removes_libvirts_log_of_a_gone_servers_domain_and_of_a_domain_left_without_its_directory_and_keeps_the_rest()
    {
        // A domain left by an older agent: no instance directory, no record, no domain; only libvirt's log of it.
        var old = Isola.Rendering.ServerSpec.DomainName("00000000-0000-0000-0000-0000000000a6");
        var logs = Local(InstanceStorage.LibvirtQemuLogs);
        Directory.CreateDirectory(logs);
        var storage = Hands.Driver.Storage;
        foreach (var domain in new[] { Held, Gone, Foreign })
            await storage.CreateDiskAsync(Plan(null, domain).Disk!, default);
        foreach (var file in new[] { $"{Held}.log", $"{Gone}.log", $"{Gone}.log.1", $"{Gone}.log.2.gz", $"{old}.log", $"{Foreign}.log", "other-vm.log", $"{Gone}.logger" })
            await File.WriteAllTextAsync(Path.Join(logs, file), "2026-12-04 18:52:00.000+0000: starting up\n");
        await _w.Driver.DefineAsync(Foreign, $"<domain type='kvm'><name>{Foreign}</name></domain>");
        _w.Store.Save(new AppliedServer("gone", Gone, []));
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan(null, Held), "ACTIVE", id: "held"));
        var actual = await Reconciler.ReadAsync(HostFacets.All, desired, _w.Store.Load(), _w.Driver, default);
        Assert.Equal(new[] { Foreign, Gone, Held, old, "other-vm" }.Order(StringComparer.Ordinal), actual.Get<StorageReading>().DomainLogs);

        var steps = _facet.PlanSweep(desired, _w.Store.Load(), actual).Where(s => s is StorageFacet.RemoveInstance).ToList();
        Assert.Equal([new StorageFacet.RemoveInstance("gone", Gone), new StorageFacet.RemoveInstance(old, old)], steps.OrderBy(s => s.Server == "gone" ? 0 : 1));
        await ApplyAsync(steps);

        // The held server's log and those of domains Isola did not make (or that libvirt still has) stay; so does a file that only starts with a name.
        Assert.Equal(new[] { $"{Foreign}.log", $"{Gone}.logger", $"{Held}.log", "other-vm.log" }.Order(StringComparer.Ordinal),
            Directory.EnumerateFiles(logs).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(Directory.Exists(Local(Path.Join(storage.InstancesDirectory, Gone))));
    }
}
