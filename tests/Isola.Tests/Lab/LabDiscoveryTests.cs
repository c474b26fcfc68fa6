using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Xunit.Abstractions;

namespace Isola.Tests.Lab;

/// <summary>Isola's discovery on a real kernel's sysfs: igb PFs and igbvf VFs as the kernel lays them out.</summary>
[Collection(LabHostFixture.Collection)]
public sealed class LabDiscoveryTests(LabHostFixture lab, ITestOutputHelper output) : IClassFixture<LabHostFixture>
{
    /// <summary>What the kernel says of each SR-IOV function, read with the shell: the witness Isola's discovery is held to.</summary>
    private const string Witness = """
        for pf in $(ls -d /sys/bus/pci/devices/*/sriov_totalvfs | sort); do
            pf=${pf%/sriov_totalvfs}
            echo "pf ${pf##*/} $(cat $pf/vendor):$(cat $pf/device) $(cat $pf/numa_node) $(basename $(readlink $pf/driver)) $(cat $pf/sriov_totalvfs) $(cat $pf/sriov_numvfs) $(basename $(readlink $pf/iommu_group)) $(ls $pf/net)"
            for vf in $pf/virtfn*; do
                irqs=$(ls $vf/msi_irqs 2>/dev/null | sort -n | tr '\n' ',')
                echo "vf ${pf##*/} ${vf##*/virtfn} $(basename $(readlink $vf)) $(cat $vf/vendor):$(cat $vf/device) $(basename $(readlink $vf/driver)) ${irqs%,} $(basename $(readlink $vf/iommu_group)) $(basename $(readlink $vf/physfn))"
            done
        done
        """;

    private static int N(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    [SkippableFact]
    public async Task Discovery_of_the_real_sysfs_is_what_the_kernel_and_the_shape_say()
    {
        var host = lab.Require();
        output.WriteLine($"lab: {host.Accel}, kernel {host.KernelRelease}, booted in {lab.BootTime.TotalSeconds:0} s");

        var witness = (await lab.RunAsync(Witness)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();
        var json = await lab.RunAsync($"{LabHostFixture.Isola} host discover --root / -f json");
        var inventory = InventoryDocument.TryRead(json, out var errors);
        Assert.True(inventory is not null, string.Join("; ", errors.Select(e => e.ToString())) + "\n" + json);
        var topology = inventory!.Host;

        // The shape: a PF on each node, 4 VFs each, all of the 82576 family, driven by the kernel's own drivers.
        var pfs = witness.Where(w => w[0] == "pf").ToList();
        Assert.Equal(["0x8086:0x10c9 0 igb 7 4", "0x8086:0x10c9 1 igb 7 4"], pfs.Select(w => string.Join(' ', w[2..7])));
        Assert.All(witness.Where(w => w[0] == "vf"), w => Assert.Equal(("0x8086:0x10ca", "igbvf", w[1]), (w[4], w[5], w[8])));
        Assert.Equal(8, witness.Count(w => w[0] == "vf"));

        // Isola's discovery, field by field against the kernel.
        var found = topology.Devices.Where(d => d.TotalVfs > 0).OrderBy(d => d.Address).ToList();
        Assert.Equal(pfs.Select(w => w[1]), found.Select(d => d.Address.ToString()));
        foreach (var (pf, w) in found.Zip(pfs))
        {
            Assert.Equal((PciId.Parse("8086:10c9"), N(w[3]), "igb", 7, 4, N(w[7]), w[8]),
                (pf.Id, pf.NumaNode ?? -1, pf.Driver, pf.TotalVfs, pf.NumVfs, pf.IommuGroup ?? -1, pf.NetDev));
            var vfs = witness.Where(v => v[0] == "vf" && v[1] == w[1]).OrderBy(v => N(v[2])).ToList();
            Assert.Equal(vfs.Select(v => (N(v[2]), v[3], "igbvf", v[6], N(v[7]))),
                pf.Vfs.OrderBy(v => v.Index).Select(v => (v.Index, v.Address.ToString(), v.Driver ?? "", string.Join(',', v.MsiIrqs), v.IommuGroup ?? -1)));
            // Each VF's runtime state, from the real `ip -d -j link show` of its PF.
            Assert.All(pf.Vfs, vf => Assert.NotNull(vf.State));
        }
        Assert.True(topology.IommuActive);
        Assert.Equal(2, topology.Cells.Count);
    }
}
