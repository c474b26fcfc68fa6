using Isola.Domain.Serialization;

namespace Isola.Tests.Lab;

/// <summary>A VF handed to vfio-pci as libvirt does it (driver_override, unbind, reprobe) and given back, on the real kernel.</summary>
[Collection(LabHostFixture.Collection)]
public sealed class LabVfioTests(LabHostFixture lab) : IClassFixture<LabHostFixture>
{
    private static string Rebind(string vf, string driver) => $"""
        echo {driver} > /sys/bus/pci/devices/{vf}/driver_override
        [ -e /sys/bus/pci/devices/{vf}/driver ] && echo {vf} > /sys/bus/pci/devices/{vf}/driver/unbind
        echo {vf} > /sys/bus/pci/drivers_probe
        basename $(readlink /sys/bus/pci/devices/{vf}/driver)
        """;

    [SkippableFact]
    public async Task A_vf_bound_to_vfio_and_back_is_as_it_was_and_discovery_sees_each_driver()
    {
        var host = lab.Require();
        var pfAddress = host.Devices[0].Address;
        var pf = (await lab.RunAsync($"ls /sys/bus/pci/devices/{pfAddress}/net")).Trim();
        var vf = (await lab.RunAsync($"basename $(readlink /sys/bus/pci/devices/{pfAddress}/virtfn1)")).Trim();
        await lab.RunAsync($"{LabHostFixture.Isola} host vf set {pf} 1 --mac fa:16:3e:cc:00:01 --vlan 300");
        var before = await lab.RunAsync($"ip -d link show dev {pf} | grep 'vf 1 '");

        var bound = (await lab.RunAsync(Rebind(vf, "vfio-pci") + $"\ng=$(basename $(readlink /sys/bus/pci/devices/{vf}/iommu_group)); [ -c /dev/vfio/$g ] && echo $g")).Trim().Split('\n');
        var inventory = InventoryDocument.TryRead(await lab.RunAsync($"{LabHostFixture.Isola} host discover --root / -f json"), out _)!.Host;
        var back = (await lab.RunAsync(Rebind(vf, "") + $"\nls /sys/bus/pci/devices/{vf}/net")).Trim().Split('\n');
        var after = await lab.RunAsync($"ip -d link show dev {pf} | grep 'vf 1 '");
        await lab.RunAsync($"{LabHostFixture.Isola} host vf reset {pf} 1");

        Assert.Equal("vfio-pci", bound[0]);
        Assert.Matches("^[0-9]+$", bound[1]); // the group's /dev/vfio node, what QEMU opens
        var seen = inventory.Devices.SelectMany(d => d.Vfs).Single(v => v.Address.ToString() == vf);
        Assert.Equal(("vfio-pci", (string?)null, int.Parse(bound[1], System.Globalization.CultureInfo.InvariantCulture)), (seen.Driver, seen.NetDev, seen.IommuGroup ?? -1));
        Assert.Equal("igbvf", back[0]);
        Assert.Single(back.Skip(1)); // its netdev is back
        // The PF holds the VF's settings: neither rebinding changed them.
        Assert.Equal(before, after);
        Assert.Contains("fa:16:3e:cc:00:01", after, StringComparison.Ordinal);
    }
}
