using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>S: shared CPUs, RAM only. N: pinned NFV guest with an HA port and a direct port. G: N in anti-affinity groups of 10.</summary>
internal enum Shape
{
    S,
    N,
    G,
}

/// <summary>Makes the requests of one shape: unique servers and MACs, group members in order.</summary>
internal sealed class RequestFactory
{
    public const int GroupSize = 10;
    private const string Physnet = "physnet2";

    private readonly PlacementRequest _template;
    private readonly bool _grouped;
    private int _next;

    /// <param name="first">The index of the first request (a second run continues where the fill left off).</param>
    public RequestFactory(Shape shape, int first = 0)
    {
        _next = first;
        _grouped = shape == Shape.G;
        _template = shape == Shape.S
            ? PlacementRequest.Create("template", Flavor.Of("s", 2, 4096, 10), [])
            : PlacementRequest.Create("template", NfvFlavor, Ports(0));
    }

    public static string Description(Shape shape) => shape switch
    {
        Shape.S => "2 shared vCPUs, 4096 MiB, no extra specs, no ports",
        Shape.N => "4 dedicated vCPUs, 8 GiB of 1 GiB pages, pci_numa_affinity_policy=required; one HA port + one direct port on physnet2 (3 VFs)",
        _ => "N, each request in an anti-affinity server group of 10 (request i joins g{i/10})",
    };

    private static Flavor NfvFlavor => Flavor.Of("n", 4, 8192, 20)
        .With(ExtraSpecs.CpuPolicyKey, "dedicated")
        .With(ExtraSpecs.MemPageSizeKey, "1GB")
        .With(ExtraSpecs.PciNumaAffinityPolicyKey, "required");

    /// <summary>Requests made so far; request i belongs to group g{i/10} (shape G).</summary>
    public int Made => _next;

    /// <summary>Adds the anti-affinity groups <paramref name="requests"/> requests will join (shape G only).</summary>
    public void AddGroups(FleetState fleet, int requests)
    {
        if (!_grouped)
            return;
        for (var g = 0; g < (requests + GroupSize - 1) / GroupSize; g++)
            fleet.AddGroup(GroupName(g), GroupPolicy.AntiAffinity);
    }

    public PlacementRequest Next()
    {
        var i = _next++;
        return _template with
        {
            Server = $"vm{i}",
            Ports = _template.Ports.Count == 0 ? [] : Ports(i),
            Group = _grouped ? GroupName(i / GroupSize) : null,
        };
    }

    private static string GroupName(int g) => $"g{g}";

    private static PortRequest[] Ports(int i) =>
    [
        new("ha", VnicType.Direct, Physnet, Ha: true, Mac(2 * i)),
        new("data", VnicType.Direct, Physnet, Ha: false, Mac((2 * i) + 1)),
    ];

    private static string Mac(int n) => $"fa:16:3e:{(n >> 16) & 0xff:x2}:{(n >> 8) & 0xff:x2}:{n & 0xff:x2}";
}
