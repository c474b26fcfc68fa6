using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Tests.Scheduling;

/// <summary>
/// Random fleets and request streams (FsCheck picks the seed; a failure names it). After every
/// operation the invariants of placement must hold, and the scheduler must find a host whenever
/// the brute-force oracle says one fits.
/// </summary>
public class PlacementPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    [Fact]
    public void Invariants_hold_and_no_false_no_valid_host() =>
        Check.One(Runs, Prop.ForAll(Gen.Choose(0, int.MaxValue - 1).ToArbitrary(), seed => Run(new RandomScenario(seed)).Ok));

    [Fact]
    public void The_same_seed_gives_the_same_placements() =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(50), Prop.ForAll(Gen.Choose(0, int.MaxValue - 1).ToArbitrary(), seed =>
            Run(new RandomScenario(seed)).Log == Run(new RandomScenario(seed)).Log));

    [Fact]
    public void The_oracle_can_tell_a_fit_from_none()
    {
        // Guards the property above against an oracle that always says "no fit".
        var fits = 0;
        var misses = 0;
        for (var seed = 0; seed < 200; seed++)
        {
            var s = new RandomScenario(seed);
            var fleet = NewFleet(s);
            foreach (var op in s.Operations.OfType<RandomScenario.Place>())
            {
                if (fleet.Hosts.Any(h => BruteForceOracle.Fits(h, op.Request)))
                    fits++;
                else
                    misses++;
            }
        }
        Assert.True(fits > 100 && misses > 20, $"fits {fits}, misses {misses}");
    }

    [Fact]
    public void The_scenarios_exercise_driver_needs_and_adapters()
    {
        // Guards the properties above against scenarios that never reach the rules they check.
        var seen = new Dictionary<string, int>();
        void Saw(string what) => seen[what] = seen.GetValueOrDefault(what) + 1;
        for (var seed = 0; seed < 300; seed++)
        {
            var s = new RandomScenario(seed);
            var fleet = NewFleet(s);
            var scheduler = new Scheduler(fleet);
            foreach (var op in s.Operations.OfType<RandomScenario.Place>())
            {
                var result = scheduler.Schedule(op.Request);
                foreach (var r in result.Rejections)
                    Saw(r.Code.ToString());
                if (result.Placement is not { } p)
                    continue;
                foreach (var port in op.Request.Ports)
                {
                    if (port.Needs != VfNeeds.None && p.Vfs.Any(v => v.Port == port.Name))
                        Saw("placed with needs");
                    if (p.HaLegsOf(port.Name) is { } legs)
                        Saw(legs.ToString());
                }
                fleet.TryClaim(p, out _);
            }
        }
        Assert.All(new[] { "placed with needs", nameof(HaLegs.DistinctAdapters), nameof(HaLegs.SameAdapter),
                nameof(RejectionCode.VfDriverCapability), nameof(RejectionCode.HaDistinctAdapters) },
            what => Assert.True(seen.GetValueOrDefault(what) >= 5, $"{what}: {seen.GetValueOrDefault(what)} ({string.Join(", ", seen)})"));
    }

    private static FleetState NewFleet(RandomScenario s)
    {
        var fleet = new FleetState();
        foreach (var h in s.Hosts)
            fleet.AddHost(h);
        fleet.AddGroup("anti", GroupPolicy.AntiAffinity);
        fleet.AddGroup("aff", GroupPolicy.Affinity);
        fleet.AddGroup("soft", GroupPolicy.SoftAntiAffinity);
        return fleet;
    }

    private static (bool Ok, string Log) Run(RandomScenario s)
    {
        var fleet = NewFleet(s);
        var scheduler = new Scheduler(fleet);
        var initial = fleet.Hosts.Select(h => h.Fingerprint()).ToList();
        var live = new List<Placement>();
        var log = new List<string>();
        foreach (var op in s.Operations)
        {
            if (op is RandomScenario.Release release)
            {
                if (live.Count == 0)
                    continue;
                var victim = live[release.Which % live.Count];
                fleet.Release(victim);
                live.Remove(victim);
                log.Add($"release {victim.Server}");
                continue;
            }
            var request = ((RandomScenario.Place)op).Request;
            var result = scheduler.Schedule(request);
            var oracle = fleet.Hosts.Where(h => Allowed(fleet, h, request) && BruteForceOracle.Fits(h, request)).Select(h => h.Name).ToList();
            if (result.Placement is null)
            {
                Assert.True(oracle.Count == 0, $"seed {s.Seed}: {request.Server} has no host per the scheduler ({result.Explain()}) but fits {string.Join(",", oracle)}");
                log.Add($"{request.Server} -> none");
                continue;
            }
            var p = result.Placement;
            Assert.True(oracle.Contains(p.Host), $"seed {s.Seed}: {request.Server} placed on {p.Host}, which the oracle says cannot take it");
            CheckPlacement(fleet.Host(p.Host)!, request, p, s.Seed);
            // Two ports of one card only when no choice on the host puts every bond on two adapters.
            if (BruteForceOracle.Fits(fleet.Host(p.Host)!, request, everyHaDistinct: true))
            {
                Assert.All(request.Ports.Where(x => x.Ha), port => Assert.True(p.HaLegsOf(port.Name) == HaLegs.DistinctAdapters,
                    $"seed {s.Seed}: {request.Server} has bond {port.Name} on one adapter of {p.Host}, where every bond fits on two"));
            }
            Assert.True(fleet.TryClaim(p, out var conflict), $"seed {s.Seed}: claim failed: {conflict}");
            live.Add(p);
            CheckFleet(fleet, live, s.Seed);
            log.Add($"{request.Server} -> {JsonSerializer.Serialize(p with { Score = 0 }, IsolaJson.Compact)}");
        }
        foreach (var p in live)
            fleet.Release(p);
        Assert.Equal(initial, fleet.Hosts.Select(h => h.Fingerprint()).ToList());
        return (true, string.Join('\n', log));
    }

    /// <summary>The hard group policies, which the oracle leaves to this check.</summary>
    private static bool Allowed(FleetState fleet, HostState host, PlacementRequest request)
    {
        if (request.Group is null)
            return true;
        var group = fleet.Groups[request.Group];
        return group.Policy switch
        {
            GroupPolicy.AntiAffinity => !group.MembersByHost.ContainsKey(host.Index),
            GroupPolicy.Affinity => group.MembersByHost.Count == 0 || group.MembersByHost.ContainsKey(host.Index),
            _ => true,
        };
    }

    private static void CheckPlacement(HostState host, PlacementRequest request, Placement p, int seed)
    {
        var c = request.Compute;
        var why = $"seed {seed}, {request.Server}";
        if (c.Cells is null)
        {
            Assert.Null(p.Cells);
            Assert.Equal(c.RamMiB, p.FloatingMemory.Sum(m => m.MiB));
        }
        else
        {
            Assert.Equal(c.Cells.Count, p.Cells!.Count);
            Assert.Equal(p.Cells.Count, p.Cells.Select(x => x.HostCell).Distinct().Count());
            foreach (var cell in p.Cells)
            {
                var guest = c.Cells[cell.GuestCell];
                var dedicated = BruteForceOracle.DedicatedOn(host, cell.HostCell);
                Assert.Equal(guest.DedicatedVcpus, cell.Pins.Select(x => x.Vcpu));
                Assert.All(cell.Pins.Select(x => x.Pcpu).Concat(cell.ReservedSiblings), cpu => Assert.True(dedicated.Contains(cpu), why));
                if (c.ThreadPolicy == CpuThreadPolicy.Isolate)
                {
                    // No two vCPUs of the guest share a core, and the siblings are reserved.
                    var cores = cell.Pins.Select(x => host.Topology.Cpus[x.Pcpu].Siblings.ToString()).ToList();
                    Assert.Equal(cores.Count, cores.Distinct().Count());
                }
                if (c.PageSize.Kind == PageSizeKind.Explicit)
                    Assert.Equal(c.PageSize.SizeKiB, cell.PageSizeKiB);
            }
            Assert.Equal(c.EmulatorPcpus, p.EmulatorPins.Count);
        }
        var all = p.AllPinned.ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        foreach (var port in request.Ports.Where(x => x.VfCount > 0))
        {
            var vfs = p.Vfs.Where(v => v.Port == port.Name).ToList();
            Assert.Equal(port.VfCount, vfs.Count);
            Assert.All(vfs, v => Assert.Equal(port.Mac, v.Mac));
            Assert.All(vfs, v => Assert.Equal(port.Physnet, v.Physnet));
            if (port.Ha)
                Assert.NotEqual(vfs[0].Pf, vfs[1].Pf);
            if (port.HaDistinctAdapters)
                Assert.True(p.HaLegsOf(port.Name) == HaLegs.DistinctAdapters, why);
            Assert.All(vfs, v => Assert.True(VfDriverCapabilities.For(host.Topology.Devices.Single(d => d.Address == v.Pf).Driver).Can(port.Needs), why));
            if (c.Cells is not null && c.PciPolicy == PciNumaAffinityPolicy.Required)
                Assert.All(vfs, v => Assert.Contains(v.HostCell!.Value, p.Cells!.Select(x => x.HostCell)));
            if (c.Cells is not null && c.PciPolicy == PciNumaAffinityPolicy.Legacy)
                Assert.All(vfs, v => Assert.True(v.HostCell is null || p.Cells!.Any(x => x.HostCell == v.HostCell), why));
        }
        Assert.Equal(request.Ports.Count(x => x.VnicType == VnicType.DirectPhysical), p.Pfs.Count);
    }

    /// <summary>Across every live placement: nothing given twice, nothing overdrawn.</summary>
    private static void CheckFleet(FleetState fleet, List<Placement> live, int seed)
    {
        foreach (var group in live.GroupBy(p => p.Host))
        {
            var pinned = group.SelectMany(p => p.AllPinned).ToList();
            Assert.True(pinned.Count == pinned.Distinct().Count(), $"seed {seed}: a pCPU of {group.Key} is pinned twice");
            var vfs = group.SelectMany(p => p.Vfs.Select(v => v.Vf)).ToList();
            Assert.True(vfs.Count == vfs.Distinct().Count(), $"seed {seed}: a VF of {group.Key} is given twice");
            var pfs = group.SelectMany(p => p.Pfs.Select(x => x.Pf)).ToHashSet();
            Assert.DoesNotContain(vfs, vf => group.SelectMany(p => p.Vfs).Any(v => v.Vf == vf && pfs.Contains(v.Pf)));
            var host = fleet.Host(group.Key)!;
            foreach (var cell in host.Topology.Cells)
            {
                foreach (var pool in cell.Hugepages)
                {
                    var used = group.SelectMany(p => p.Cells ?? []).Where(x => x.HostCell == cell.Id && x.PageSizeKiB == pool.PageSizeKiB).Sum(x => x.MemMiB * 1024 / pool.PageSizeKiB);
                    // The pool's total is the host's capacity (free is what discovery saw free, guests placed here included).
                    Assert.True(used <= pool.Total, $"seed {seed}: {used} {pool.PageSizeKiB} KiB pages used on {group.Key} cell {cell.Id}, the pool has {pool.Total}");
                }
            }
            Assert.True(host.SharedUnitsFree >= 0 && host.Cells.All(x => x.SmallFreeMiB >= 0));
        }
    }
}
