namespace Isola.Tests.Lab;

/// <summary>Steering a VF's real MSI-X vectors (igbvf bound) with the agent's driver, and putting them back.</summary>
[Collection(LabHostFixture.Collection)]
public sealed class LabIrqTests(LabHostFixture lab) : IClassFixture<LabHostFixture>
{
    private async Task<List<(int Irq, string Cpus)>> ShowAsync(string vf) =>
        (await lab.RunAsync($"{LabHostFixture.Isola} host irq show {vf}")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Select(p => (int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), p[1])).ToList();

    [SkippableFact]
    public async Task A_vfs_vectors_are_steered_read_back_and_restored_once_its_driver_requested_them()
    {
        var pfAddress = lab.Require().Devices[1].Address;
        var vf = (await lab.RunAsync($"basename $(readlink /sys/bus/pci/devices/{pfAddress}/virtfn0)")).Trim();
        var netdev = (await lab.RunAsync($"ls /sys/bus/pci/devices/{vf}/net")).Trim();

        // Real igbvf: its vectors are allocated at probe (msi_irqs/) but requested only when its netdev opens: no /proc/irq/N until then.
        var unopened = await ShowAsync(vf);
        await lab.RunAsync($"ip link set dev {netdev} up");
        var opened = await ShowAsync(vf);
        var names = await lab.RunAsync($"grep -E ' {netdev}(-|$)' /proc/interrupts | awk '{{print $1, $NF}}'");
        foreach (var (irq, _) in opened)
            await lab.RunAsync($"{LabHostFixture.Isola} host irq set {irq} 1");
        var steered = await ShowAsync(vf);
        var refused = await lab.Require().RunAsync($"{LabHostFixture.Isola} host irq set {opened[0].Irq} 7", TimeSpan.FromMinutes(2));
        foreach (var (irq, cpus) in opened)
            await lab.RunAsync($"{LabHostFixture.Isola} host irq set {irq} {cpus}");
        var restored = await ShowAsync(vf);
        await lab.RunAsync($"ip link set dev {netdev} down");

        Assert.Equal(3, unopened.Count); // igbvf: one rx, one tx and the mailbox vector
        Assert.All(unopened, v => Assert.Equal("none", v.Cpus));
        Assert.Equal(unopened.Select(v => v.Irq), opened.Select(v => v.Irq));
        Assert.All(opened, v => Assert.NotEqual("none", v.Cpus));
        // The kernel's own names say which vector is which; the one named like the netdev alone is the mailbox (misc) vector.
        Assert.Equal([$"{netdev}-tx-0", $"{netdev}-rx-0", netdev], names.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[1]));
        Assert.All(steered, v => Assert.Equal("1", v.Cpus));
        Assert.Equal(1, refused.ExitCode); // CPU 7 is not in the lab: the kernel's EINVAL, as a driver error
        Assert.Contains($"/proc/irq/{opened[0].Irq}/smp_affinity_list", refused.Output, StringComparison.Ordinal);
        Assert.Equal(opened, restored);
    }
}
