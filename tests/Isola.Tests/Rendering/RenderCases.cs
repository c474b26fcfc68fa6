using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Rendering.Boot;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Tests.Scheduling;

namespace Isola.Tests.Rendering;

/// <summary>
/// One server per vnic type and policy, placed by the real scheduler on a 16-CPU host (2 sockets x
/// 4 cores x 2 threads, the size libvirt's test driver reports pinning for) and rendered.
/// </summary>
internal static class RenderCases
{
    public static IReadOnlyList<string> Names { get; } =
    [
        "direct-dedicated", "ha-active-backup", "ha-balance-xor", "ha-balance-rr", "direct-physical", "macvtap",
        "virtio-shared", "mixed-policy", "two-cells-locked", "vdpa", "virtio-tcg",
    ];

    public static Isola.Domain.Topology.HostTopology Host() =>
        new HostBuilder("lab16").Sockets(2).Cores(4).Threads(2).Pages1G(8).Pages2M(1024)
            .Nic(0, "physnet2", 4, ports: 2, model: "intel-x710").Nic(1, "physnet2", 4, ports: 1, model: "mellanox-cx5").Build();

    public static RenderInput Input(string name)
    {
        Flavor Dedicated(int vcpus, long ram = 2048) => Flavor.Of("nfv", vcpus, ram, 20)
            .With(ExtraSpecs.CpuPolicyKey, "dedicated").With(ExtraSpecs.MemPageSizeKey, "1GB");
        PortSpec Sriov(string port, bool ha = false, BondMode mode = BondMode.ActiveBackup) =>
            new(port, VnicType.Direct, $"fa:16:3e:10:00:{port.Length:x2}", ha, "physnet2", Vlan: 100, BondMode: mode,
                Addresses: ["192.0.2.10/24"], Gateway: "192.0.2.1", DnsServers: ["192.0.2.53"]);
        PortSpec Virtio(string port) => new(port, VnicType.Normal, "fa:16:3e:20:00:01", Queues: 2, Mtu: 1450,
            PortId: "0b4e1c7a-3f2d-4e8b-9a6c-5d1f2e3a4b5c");
        var (flavor, ports) = name switch
        {
            "direct-dedicated" => (Dedicated(4).With(ExtraSpecs.EmulatorThreadsPolicyKey, "isolate").With(ExtraSpecs.PciNumaAffinityPolicyKey, "required"),
                new[] { Sriov("ext") with { MaxTxRateMbps = 2000 } }),
            "ha-active-backup" => (Dedicated(2).With(ExtraSpecs.CpuThreadPolicyKey, "isolate").With("quota:vif_inbound_average", "10240")
                .With("quota:vif_outbound_average", "10240").With("quota:vif_outbound_burst", "1024"), new[] { Sriov("bond", ha: true), Virtio("int") }),
            "ha-balance-xor" => (Dedicated(2), new[] { Sriov("bond", ha: true, mode: BondMode.BalanceXor) }),
            "ha-balance-rr" => (Dedicated(2), new[] { Sriov("bond", ha: true, mode: BondMode.BalanceRr) }),
            "direct-physical" => (Dedicated(2), new[] { new PortSpec("wan", VnicType.DirectPhysical, "fa:16:3e:30:00:01", Physnet: "physnet2") }),
            "macvtap" => (Dedicated(2).With(ExtraSpecs.CpuThreadPolicyKey, "require"),
                new[] { new PortSpec("lan", VnicType.Macvtap, "fa:16:3e:40:00:01", Physnet: "physnet2", Vlan: 200) }),
            "virtio-shared" => (Flavor.Of("web", 2, 2048, 20).With("quota:disk_total_iops_sec", "2000").With("quota:disk_total_bytes_sec", "104857600"),
                new[] { Virtio("int") }),
            "mixed-policy" => (Flavor.Of("mixed", 4, 2048, 20).With(ExtraSpecs.CpuPolicyKey, "mixed").With(ExtraSpecs.CpuDedicatedMaskKey, "^0")
                .With(ExtraSpecs.MemPageSizeKey, "2MB"), new[] { Sriov("ext") with { IrqVcpus = [2, 3] } }),
            "two-cells-locked" => (Flavor.Of("big", 4, 4096, 20).With(ExtraSpecs.CpuPolicyKey, "dedicated").With(ExtraSpecs.NumaNodesKey, "2")
                .With(ExtraSpecs.MemPageSizeKey, "small").With(ExtraSpecs.LockedMemoryKey, "true").With(ExtraSpecs.PciNumaAffinityPolicyKey, "preferred"),
                new[] { Sriov("ext"), Virtio("int") }),
            "vdpa" => (Dedicated(2), new[] { new PortSpec("fast", VnicType.Vdpa, "fa:16:3e:50:00:01", Physnet: "physnet2", VdpaDevice: "/dev/vhost-vdpa-0") }),
            // A host without KVM or vhost-net (QEMU's translator, as on a CI machine), booting an image with user-data and a key.
            "virtio-tcg" => (Dedicated(2), new[] { Virtio("int") with { Addresses = ["10.0.0.5/24"], Gateway = "10.0.0.1" } }),
            _ => throw new ArgumentException(name),
        };
        var host = name == "virtio-tcg"
            ? Host() with { Virtualization = new HostVirtualization(HostVirtualization.Qemu, VhostNet: false, InstancesDirectory: "/srv/isola/instances") }
            : Host();
        var boot = name == "virtio-tcg"
            ? new GuestBoot(new ImageRef("0c9d7f1e-5b2a-4e3c-8d6f-1a2b3c4d5e6f", "qcow2", new string('a', 64), 10289152),
                "#cloud-config\npackages: [iperf3]\n", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsola test@isola"])
            : null;
        var fleet = new FleetState();
        fleet.AddHost(host);
        // vDPA devices are not placed (no host here has one); the port is rendered from its spec.
        var placed = ports.Where(p => p.VnicType != VnicType.Vdpa).Select(p => p.ToRequest()).ToList();
        var result = new Placer(fleet).Place(PlacementRequest.Create(name, flavor, placed));
        if (result.Placement is null)
            throw new InvalidOperationException($"{name}: {result.Explain()}");
        return new RenderInput(result.Placement, flavor, ports, fleet.Hosts[0].Topology, Boot: boot);
    }
}
