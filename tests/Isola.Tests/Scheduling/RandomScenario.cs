using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>A random small fleet and a stream of place/release operations, all from one seed.</summary>
internal sealed class RandomScenario
{
    public RandomScenario(int seed)
    {
        var random = new Random(seed);
        Seed = seed;
        Hosts = Enumerable.Range(0, random.Next(1, 4)).Select(i => RandomHost(random, $"h{i}")).ToList();
        var groups = new[] { "anti", "aff", "soft" };
        Operations = Enumerable.Range(0, random.Next(4, 16)).Select(i =>
            random.Next(5) == 0 ? (Operation)new Release(random.Next(1000)) : new Place(RandomRequest(random, $"vm{i}", groups))).ToList();
    }

    private static readonly string[] Models = ["intel-82599es", "intel-82599es", "intel-x710", "intel-82576", "mellanox-cx5"];

    public int Seed { get; }

    public List<HostTopology> Hosts { get; }

    public List<Operation> Operations { get; }

    public abstract record Operation;

    public sealed record Place(PlacementRequest Request) : Operation;

    /// <summary>Release the live placement at this position (modulo how many are live).</summary>
    public sealed record Release(int Which) : Operation;

    private static HostTopology RandomHost(Random r, string name)
    {
        var sockets = r.Next(1, 3);
        var b = new HostBuilder(name).Sockets(sockets).Cores(r.Next(2, 5)).Threads(r.Next(1, 3)).MemoryMiB(4096 + (1024 * r.Next(0, 3)));
        if (r.Next(3) > 0)
            b.Pages1G(r.Next(1, 5), used: r.Next(0, 2));
        if (r.Next(3) == 0)
            b.Pages2M(512 * r.Next(1, 3));
        // Mixed PF drivers: ixgbe and i40e (no guaranteed rate, no 802.1ad), igb (nor a link state), mlx5_core (all).
        for (var n = r.Next(0, 4); n > 0; n--)
            b.Nic(r.Next(-1, sockets), r.Next(3) == 0 ? "physnet3" : "physnet2", r.Next(1, 4), ports: r.Next(1, 3), vfDriver: r.Next(4) == 0 ? "vfio-pci" : null,
                model: Models[r.Next(Models.Length)]);
        return b.Build();
    }

    private static PlacementRequest RandomRequest(Random r, string server, string[] groups)
    {
        Flavor flavor;
        if (r.Next(4) == 0)
        {
            flavor = Flavor.Of("s", r.Next(1, 4), 512 * r.Next(1, 4), 10);
        }
        else
        {
            var cells = r.Next(4) == 0 ? 2 : 1;
            var vcpus = cells * r.Next(1, 3);
            var page = r.Next(4) switch { 0 => "small", 1 => "2MB", 2 => "large", _ => "1GB" };
            flavor = Flavor.Of("d", vcpus, cells * 1024 * r.Next(1, 3), 10)
                .With(ExtraSpecs.CpuPolicyKey, "dedicated")
                .With(ExtraSpecs.MemPageSizeKey, page)
                .With(ExtraSpecs.CpuThreadPolicyKey, r.Next(3) switch { 0 => "prefer", 1 => "isolate", _ => "require" })
                .With(ExtraSpecs.PciNumaAffinityPolicyKey, r.Next(4) switch { 0 => "legacy", 1 => "required", 2 => "preferred", _ => "socket" });
            if (cells > 1)
                flavor = flavor.With(ExtraSpecs.NumaNodesKey, "2");
            if (r.Next(3) == 0)
                flavor = flavor.With(ExtraSpecs.EmulatorThreadsPolicyKey, "isolate");
        }
        var ports = new List<PortRequest>();
        for (var p = r.Next(0, 3); p > 0; p--)
        {
            var physnet = r.Next(3) == 0 ? "physnet3" : "physnet2";
            var mac = $"fa:16:3e:{r.Next(256):x2}:{r.Next(256):x2}:{r.Next(256):x2}";
            // Now and then a port that needs more of the PF driver (a guaranteed rate, 802.1ad, a link state).
            var needs = r.Next(3) == 0 ? (VfNeeds)r.Next(1, 8) : VfNeeds.None;
            ports.Add(r.Next(7) switch
            {
                0 => new PortRequest($"p{p}", VnicType.DirectPhysical, physnet, false, mac),
                1 or 2 => new PortRequest($"p{p}", VnicType.Direct, physnet, true, mac, needs, HaDistinctAdapters: r.Next(3) == 0),
                3 => new PortRequest($"p{p}", VnicType.Macvtap, physnet, false, mac, needs),
                _ => new PortRequest($"p{p}", VnicType.Direct, physnet, false, mac, needs),
            });
        }
        var group = r.Next(3) == 0 ? groups[r.Next(groups.Length)] : null;
        return PlacementRequest.Create(server, flavor, ports, group, strategy: r.Next(2) == 0 ? Strategy.Spread : Strategy.Pack);
    }
}
