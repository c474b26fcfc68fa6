using Isola.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>Request builders: flavors by shape, ports by kind.</summary>
internal static class Requests
{
    private static int _mac;

    public static Flavor Dedicated(int vcpus, long ramMiB = 4096, string? pageSize = "1GB") =>
        With(Flavor.Of($"d{vcpus}", vcpus, ramMiB, 10).With(ExtraSpecs.CpuPolicyKey, "dedicated"), pageSize);

    public static Flavor Shared(int vcpus, long ramMiB = 2048) => Flavor.Of($"s{vcpus}", vcpus, ramMiB, 10);

    private static Flavor With(Flavor f, string? pageSize) => pageSize is null ? f : f.With(ExtraSpecs.MemPageSizeKey, pageSize);

    public static string NextMac() => $"fa:16:3e:00:{++_mac / 256 % 256:x2}:{_mac % 256:x2}";

    public static PortRequest Direct(string name, string physnet = "physnet2") => new(name, VnicType.Direct, physnet, false, NextMac());

    public static PortRequest Ha(string name, string physnet = "physnet2") => new(name, VnicType.Direct, physnet, true, NextMac());

    public static PortRequest Physical(string name, string physnet = "physnet2") => new(name, VnicType.DirectPhysical, physnet, false, NextMac());

    public static PlacementRequest Request(string server, Flavor flavor, params PortRequest[] ports) => PlacementRequest.Create(server, flavor, ports);
}
