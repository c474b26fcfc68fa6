using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;

namespace Isola.Agent.Facets;

/// <summary>What of the servers' files is on the host: which of the plans' files exist, the instance directories, the cached images.</summary>
public sealed record StorageReading(IReadOnlySet<string> Existing, IReadOnlyList<string> InstanceDirectories, IReadOnlyList<string> CachedImages) : IReading<StorageReading>
{
    public static StorageReading None { get; } = new(new HashSet<string>(), [], []);
}

/// <summary>
/// A server's files (<see cref="Driver.InstanceStorage"/>): before its domain is defined, its image in
/// the host's cache, its root disk as an overlay of it and its config drive; once its domain is gone,
/// its instance directory; and a cached image no server of the host uses any more. Written once: a
/// disk is the guest's, never remade while the server is here.
/// </summary>
public sealed class StorageFacet : IHostFacet
{
    public sealed record FetchImage(string Id, ImageRef Image) : Step(Id);
    public sealed record CreateDisk(string Id, InstanceDisk Disk) : Step(Id);
    public sealed record WriteConfigDrive(string Id, string Path, ConfigDrive Drive) : Step(Id);
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
        return Task.FromResult<object?>(new StorageReading(existing, storage.InstanceDirectories(), storage.CachedImages()));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var reading = actual.Get<StorageReading>();
        var (disk, files, drive) = (server.Plan.Disk, server.Plan.Files, server.Plan.ConfigDrive);
        if (disk is not null && !reading.Existing.Contains(disk.Path))
        {
            if (disk.Image is { } image && !reading.CachedImages.Contains(image.Id))
                yield return new FetchImage(server.Id, image);
            yield return new CreateDisk(server.Id, disk);
        }
        if (files is not null && drive is not null && !reading.Existing.Contains(files.ConfigDrive))
            yield return new WriteConfigDrive(server.Id, files.ConfigDrive, drive);
    }

    /// <summary>
    /// After every take-down: the instance directories of no server the host should hold, once their
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
        var gone = applied.Values.Where(a => !held.Contains(a.Domain)).Select(a => a.Domain).ToHashSet(StringComparer.Ordinal);
        foreach (var dir in reading.InstanceDirectories.Where(d => !held.Contains(d) && (gone.Contains(d) || !domains.ContainsKey(d))))
            yield return new RemoveInstance(dir, dir);
        // A disk is made only from its own plan's image (an image never changes): what no plan names, no disk here needs.
        // A server without a plan says nothing of its image: then nothing is pruned.
        if (wanted.Count < desired.Servers.Count)
            yield break;
        var used = wanted.Select(p => p.Disk?.Image?.Id).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var image in reading.CachedImages.Where(i => !used.Contains(i)))
            yield return new RemoveImage(image);
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        var storage = hands.Driver.Storage;
        switch (step)
        {
            case FetchImage f:
                return storage.FetchImageAsync(f.Image, ct);
            case CreateDisk c:
                return storage.CreateDiskAsync(c.Disk, ct);
            case WriteConfigDrive w:
                return storage.WriteConfigDriveAsync(w.Path, w.Drive, ct);
            case RemoveInstance r:
                storage.RemoveInstance(r.Directory);
                return Task.CompletedTask;
            case RemoveImage r:
                storage.RemoveCachedImage(r.ImageId);
                return Task.CompletedTask;
            default:
                throw HostFacets.NotMine(this, step);
        }
    }
}
