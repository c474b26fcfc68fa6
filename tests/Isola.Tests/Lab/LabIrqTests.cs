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

    /// <summary>Each of the VF's vectors as the kernel names it in /proc/interrupts, with its affinity now: (irq, name, cpus).</summary>
    private async Task<List<(int Irq, string Name, string Cpus)>> NamedAsync(string vf)
    {
        var names = (await lab.RunAsync($"for i in $(ls /sys/bus/pci/devices/{vf}/msi_irqs); do echo \"$i $(awk -v i=\"$i:\" '$1 == i {{ print $NF }}' /proc/interrupts) $(cat /proc/irq/$i/smp_affinity_list 2>/dev/null || echo none)\"; done"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();
        return names.Select(p => (int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), p[1], p[2])).OrderBy(v => v.Item1).ToList();
    }

    [SkippableFact]
    public async Task The_agents_steering_puts_each_named_vector_where_its_rule_says_again_after_a_driver_reload_and_restores_them()
    {
        var pfAddress = lab.Require().Devices[1].Address;
        var vf = (await lab.RunAsync($"basename $(readlink /sys/bus/pci/devices/{pfAddress}/virtfn1)")).Trim();
        var device = Isola.Domain.Pci.PciAddress.Parse(vf);
        // The lab's CPU 0 is node 0's, CPU 1 node 1's (the PF's), where the kernel puts the VF's vectors when they are requested.
        // The rule: queue 0 handled by a vCPU pinned to CPU 0 (a guest on the other node), the misc vector on CPU 1, housekeeping there.
        var irqs = new Isola.Rendering.Isolation.IrqAffinityPlan(
            [new Isola.Rendering.Isolation.IrqRule("p", device, "igbvf", Passthrough: false, [new Isola.Scheduling.VcpuPin(0, 0)], new Isola.Scheduling.VcpuPin(0, 1))], [], []);
        string[] wanted = ["0", "0", "1"]; // tx-0, rx-0, the mailbox
        var json = System.Text.Json.JsonSerializer.Serialize(irqs, Isola.Domain.Serialization.IsolaJson.Options);
        var steer = $"cat > /tmp/irqs.json <<'ISOLA_IRQS'\n{json}\nISOLA_IRQS\n{LabHostFixture.Isola} host irq steer --irqs /tmp/irqs.json --state-dir /tmp/irq-state";
        const string Reload = """
            set -e
            nd=$(ls /sys/bus/pci/devices/VF/net); ip link set dev $nd down
            echo VF > /sys/bus/pci/drivers/igbvf/unbind
            echo VF > /sys/bus/pci/drivers/igbvf/bind
            for i in $(seq 100); do [ -d /sys/bus/pci/devices/VF/net ] && break; sleep 0.1; done
            ip link set dev $(ls /sys/bus/pci/devices/VF/net) up
            """;

        await lab.RunAsync($"ip link set dev $(ls /sys/bus/pci/devices/{vf}/net) up");
        var before = await NamedAsync(vf);
        var first = await lab.RunAsync(steer);
        var steered = await NamedAsync(vf);
        var quiet = await lab.RunAsync(steer); // nothing moved: nothing to do
        await lab.RunAsync(Reload.Replace("VF", vf, StringComparison.Ordinal));
        var reloaded = await NamedAsync(vf);
        var again = await lab.RunAsync(steer); // one cycle
        var resteered = await NamedAsync(vf);
        var restore = await lab.RunAsync($"{LabHostFixture.Isola} host irq restore --state-dir /tmp/irq-state");
        var restored = await NamedAsync(vf);
        await lab.RunAsync($"ip link set dev $(ls /sys/bus/pci/devices/{vf}/net) down; rm -rf /tmp/irq-state");

        var netdev = before.Single(v => !v.Name.Contains('-', StringComparison.Ordinal)).Name;
        Assert.Equal([$"{netdev}-tx-0", $"{netdev}-rx-0", netdev], before.Select(v => v.Name)); // igbvf: tx, rx, then the mailbox
        // The simulated host names them as the real igbvf does.
        Assert.Equal(before.Select(v => v.Name), Enumerable.Range(0, 3).Select(e => Isola.Host.Hardware.SysfsTreeWriter.VectorName("igbvf", netdev, device, e, 3)));
        string Say() => $"before: {string.Join(", ", before)}\nsteer:\n{first}\nsteered: {string.Join(", ", steered)}\nreloaded: {string.Join(", ", reloaded)}\nagain:\n{again}";
        // One step per vector not already where its role wants it.
        Assert.True(first.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == before.Where((v, i) => v.Cpus != wanted[i]).Count(), Say());
        Assert.NotEqual(wanted, before.Select(v => v.Cpus));
        // By name: both queue vectors on the queue's pCPU, the mailbox on the housekeeping CPU.
        Assert.Equal(wanted, steered.Select(v => v.Cpus));
        Assert.Equal("", quiet.Trim());
        // The reload freed the vectors and requested them again: the kernel's own affinity, whatever the numbers; one run steers them all back.
        Assert.Equal(3, reloaded.Count);
        Assert.True(!wanted.SequenceEqual(reloaded.Select(v => v.Cpus)), Say());
        Assert.Equal(wanted, resteered.Select(v => v.Cpus));
        Assert.Equal(resteered.Select(v => v.Irq), reloaded.Select(v => v.Irq));
        Assert.NotEqual("", again.Trim());
        // Restored: the affinity each had before it was steered.
        Assert.Equal(before.Select(v => v.Cpus), restored.Select(v => v.Cpus));
        Assert.Contains("restore", restore, StringComparison.Ordinal);
    }
}
