using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;

namespace Isola.Agent.Facets;

/// <summary>
/// What of the servers' files is on the host: which of the plans' files exist, the instance directories, the cached images,
/// the domains libvirt kept a log of.
/// </summary>
public sealed record StorageReading(IReadOnlySet<string> Existing, IReadOnlyList<string> InstanceDirectories, IReadOnlyList<string> CachedImages,
    IReadOnlyList<string>? DomainLogs = null) : IReading<StorageReading>
{
    public static StorageReading None { get; } = new(new HashSet<string>(), [], []);
}

/// <summary>
/// A server's files (<see cref="Driver.InstanceStorage"/>): before its domain is defined, its image in
/// the host's cache, its root disk as an overlay of it and its config drive; once its domain is gone,
/// its instance directory and libvirt's log of its domain (which libvirt keeps after undefine); and a cached image no
/// server of the host uses any more. A disk is the
/// guest's: made again only when its plan says a newer version of it (a rebuild) and its domain is
/// shut off — then with a new config drive — and the version made is kept in the server's record
/// (<see cref="MadeDisk"/>) and reported. In a resize or migration: a disk grown to a bigger flavor's size while
/// shut off; between hosts, the source's disk sent once its domain is shut off, and the destination's made from it.
/// </summary>
public sealed class StorageFacet : IHostFacet
{
    public sealed record FetchImage(string Id, ImageRef Image) : Step(Id);
    /// <param name="Replace">A rebuild: the new disk takes the old one's place.</param>
    public sealed record CreateDisk(string Id, InstanceDisk Disk, bool Replace = false) : Step(Id);
    public sealed record WriteConfigDrive(string Id, string Path, ConfigDrive Drive) : Step(Id);

    /// <summary>The server record's part that says which version of its disk the agent made.</summary>
    public const string Memory = "disk";

    /// <summary>Sends a server's disk to the controller: the source of a move between hosts, its domain shut off.</summary>
    public sealed record SendDisk(string Id, InstanceDisk Disk) : Step(Id);
    /// <summary>Makes a server's disk from the one its source host sent: the destination of a move between hosts.</summary>
    public sealed record ReceiveDisk(string Id, InstanceDisk Disk) : Step(Id);
    /// <summary>Grows a server's disk to its plan's size (a resize to a flavor with a bigger disk), its domain shut off.</summary>
    public sealed record GrowDisk(string Id, InstanceDisk Disk) : Step(Id);

    /// <summary>The version of the disk the agent made for a server (<see cref="InstanceDisk.Version"/>), and its size (null: not recorded, by agents before resizes).</summary>
    public sealed record MadeDisk(int Version, int? SizeGiB = null);

    /// <summary>The version of the server's disk on the host: what the agent recorded, else 0 (agents before rebuilds made one, at version 0).</summary>
    public static int DiskVersion(AppliedServer? server) => server?.Part<MadeDisk>(Memory)?.Version ?? 0;

    private static void Made(AgentHands hands, string id, InstanceDisk disk)
    {
        if (hands.Applied.Load().GetValueOrDefault(id) is { } record)
            hands.Applied.Save(record.WithPart(Memory, new MadeDisk(disk.Version, disk.SizeGiB)));
    }

    /// <summary>A gone server's instance directory (named as its domain) and libvirt's log of that domain.</summary>
    public sealed record RemoveInstance(string Id, string Directory) : Step(Id);
    public sealed record RemoveImage(string ImageId) : Step(ImageId);

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var storage = read.Driver.Storage;
        var existing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var plan in read.Desired.Servers.Select(s => s.Plan).OfType<Isola.Rendering.HostPlan>())
        {
            foreach (var path in new[] { plan.Disk?.Path, plan.Files?.ConfigDrive }.OfType<string>())
            {
                if (storage.Exists(path))
                    existing.Add(path);
            }
        }
        return Task.FromResult<object?>(new StorageReading(existing, storage.InstanceDirectories(), storage.CachedImages(), storage.DomainLogs()));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var reading = actual.Get<StorageReading>();
        var (disk, files, drive) = (server.Plan.Disk, server.Plan.Files, server.Plan.ConfigDrive);
        // A disk is made only before its domain exists: a defined domain whose disk is missing is a problem to say, never a
        // fresh disk under a guest that had one (an unmounted instances file system must not become blank disks).
        var fresh = disk is not null && !reading.Existing.Contains(disk.Path) && server.State is null;
        // A rebuild: a newer disk than the one made, under a domain that is shut off (never under a running guest).
        var rebuilt = disk is not null && reading.Existing.Contains(disk.Path) && server.State == "shut off" && DiskVersion(server.Applied) < disk.Version;
        var migration = server.Server.Migration;
        if (fresh || rebuilt)
        {
            if (disk!.Image is { } image && !reading.CachedImages.Contains(image.Id))
                yield return new FetchImage(server.Id, image);
            // The destination of a move between hosts makes the guest's disk from the one its source sent, never a blank one.
            if (fresh && migration?.Role == DesiredMigration.Destination)
                yield return new ReceiveDisk(server.Id, disk);
            else
                yield return new CreateDisk(server.Id, disk, Replace: rebuilt);
        }
        else if (disk is not null && reading.Existing.Contains(disk.Path) && server.State == "shut off" && server.Known
                 && (server.Applied!.Part<MadeDisk>(Memory)?.SizeGiB ?? 0) < disk.SizeGiB)
        {
            // A size not recorded (a disk made by an agent before resizes) is grown to the plan's once: qemu-img never shrinks.
            yield return new GrowDisk(server.Id, disk);
        }
        // The source of a move between hosts sends the disk once its domain is shut off (so the guest writes no more to it).
        if (migration is { Role: DesiredMigration.Source, DiskSent: false } && disk is not null && reading.Existing.Contains(disk.Path) && server.State == "shut off")
            yield return new SendDisk(server.Id, disk);
        if (files is not null && drive is not null && (rebuilt || !reading.Existing.Contains(files.ConfigDrive)))
            yield return new WriteConfigDrive(server.Id, files.ConfigDrive, drive);
    }

    /// <summary>
    /// After every take-down: the instance directories (and libvirt's domain logs) of no server the host should hold, once their
    /// domains are gone (a gone server's domain goes in this cycle's take-down; one Isola does not know stays);
    /// then the cached images none of the remaining servers' disks is made from.
    /// </summary>
    public IEnumerable<Step> PlanSweep(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual)
    {
        var reading = actual.Get<StorageReading>();
        var domains = actual.Get<DomainReading>().Domains;
        var wanted = desired.Servers.Select(s => s.Plan).OfType<Isola.Rendering.HostPlan>().ToList();
        // Every server the host should hold keeps its files, with a plan or without one (a plan that stopped rendering
        // leaves the server as it is, disk and all).
        var held = desired.Servers.Select(s => s.Plan?.Server ?? applied.GetValueOrDefault(s.Id)?.Domain ?? Isola.Rendering.ServerSpec.DomainName(s.Id))
            .ToHashSet(StringComparer.Ordinal);
        var gone = applied.Values.Where(a => !held.Contains(a.Domain)).ToDictionary(a => a.Domain, a => a.Id, StringComparer.Ordinal);
        // Only directories named as Isola names its domains (isola-<server id>) are ever Isola's to remove: whatever else
        // shares the instances directory stays. A gone server's removal is its own step (keyed by its id), so it waits
        // when that server's take-down failed this cycle.
        // libvirt's log of a domain outlives it (and may be written once more as QEMU ends): a log without its directory is swept too.
        var files = reading.InstanceDirectories.Concat(reading.DomainLogs ?? []).Distinct(StringComparer.Ordinal);
        foreach (var dir in files.Where(d => IsIsolaDomain(d) && !held.Contains(d) && (gone.ContainsKey(d) || !domains.ContainsKey(d))))
            yield return new RemoveInstance(gone.GetValueOrDefault(dir) ?? dir, dir);
        // A disk is made only from its own plan's image (an image never changes): what no plan names, no disk here needs.
        // A server without a plan says nothing of its image: then nothing is pruned.
        if (wanted.Count < desired.Servers.Count)
            yield break;
        var used = wanted.Select(p => p.Disk?.Image?.Id).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var image in reading.CachedImages.Where(i => !used.Contains(i)))
            yield return new RemoveImage(image);
    }

    /// <summary>Whether a name is one Isola gives its domains: <c>isola-</c> and a server id (a GUID).</summary>
    public static bool IsIsolaDomain(string name) =>
        name.StartsWith("isola-", StringComparison.Ordinal) && Guid.TryParse(name.AsSpan("isola-".Length), out _);

    /// <summary>A server whose domain is defined but whose disk is not there (a lost file, an unmounted file system).</summary>
    public IEnumerable<string> Problems(DesiredHost desired, ActualHost actual)
    {
        var reading = actual.Get<StorageReading>();
        var domains = actual.Get<DomainReading>().Domains;
        foreach (var server in desired.Servers)
        {
            if (server.Plan is { Disk: { } disk } plan && domains.ContainsKey(plan.Server) && !reading.Existing.Contains(disk.Path))
                yield return $"server {server.Id}: its domain {plan.Server} is defined but its disk {disk.Path} is not there; the agent makes no new one under it";
        }
    }

    private static async Task CreateAsync(CreateDisk c, AgentHands hands, CancellationToken ct)
    {
        await hands.Driver.Storage.CreateDiskAsync(c.Disk, ct, c.Replace);
        Made(hands, c.Id, c.Disk);
    }

    private static async Task ReceiveAsync(ReceiveDisk r, AgentHands hands, CancellationToken ct)
    {
        await hands.Driver.Storage.ReceiveDiskAsync(r.Id, r.Disk, ct);
        Made(hands, r.Id, r.Disk);
    }

    private static async Task GrowAsync(GrowDisk g, AgentHands hands, CancellationToken ct)
    {
        await hands.Driver.Storage.GrowDiskAsync(g.Disk, ct);
        if (hands.Applied.Load().GetValueOrDefault(g.Id) is { } record)
            hands.Applied.Save(record.WithPart(Memory, new MadeDisk(DiskVersion(record), g.Disk.SizeGiB)));
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        var storage = hands.Driver.Storage;
        switch (step)
        {
            case FetchImage f:
                return storage.FetchImageAsync(f.Image, ct);
            case CreateDisk c:
                return CreateAsync(c, hands, ct);
            case ReceiveDisk r:
                return ReceiveAsync(r, hands, ct);
            case GrowDisk g:
                return GrowAsync(g, hands, ct);
            case SendDisk d:
                return storage.SendDiskAsync(d.Id, d.Disk, ct);
            case WriteConfigDrive w:
                return storage.WriteConfigDriveAsync(w.Path, w.Drive, ct);
            case RemoveInstance r:
                storage.RemoveInstance(r.Directory);
                storage.RemoveDomainLogs(r.Directory);
                return Task.CompletedTask;
            case RemoveImage r:
                storage.RemoveCachedImage(r.ImageId);
                return Task.CompletedTask;
            default:
                throw HostFacets.NotMine(this, step);
        }
    }
}
