using System.Globalization;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>
/// vhost-net workers through the real API and agent on a simulated host of either kernel: before 6.4
/// (Debian 12's 6.1) the workers are kernel threads, from 6.4 threads of QEMU. A pinned server with a
/// virtio port and a macvtap port (both served by vhost-net) turns ACTIVE only with every worker on its
/// pin; a worker moved behind the agent's back is put back and reported; nothing of them stays.
/// </summary>
public sealed class VhostEndToEndTests : SimulatedSiteTest
{
    protected override async Task SetUpAsync()
    {
        await Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" });
        // This agent leaves Open vSwitch alone: the operator made br-int (libvirt starts no domain without its bridge).
        Host.Ovs.AddBridge("br-int");
    }

    /// <summary>The simulated host's kernel, as <c>uname -r</c> reads it (<c>proc/sys/kernel/osrelease</c>).</summary>
    private void Kernel(string release)
    {
        var file = Path.Join(Dir.Sub("root"), "proc", "sys", "kernel", "osrelease");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, release + "\n");
    }

    private async Task<string> Status(string id) => (await Admin.Get($"/v1/servers/{id}")).Body.Str("status");

    /// <summary>A pinned server with the given ports (created first, each of its vnic type); its id.</summary>
    private async Task<string> CreateServer(string name, params (string Port, string Network, string VnicType)[] ports)
    {
        foreach (var (port, network, vnic) in ports)
            Assert.Equal(201, (await Admin.Post("/v1/ports", new { name = port, network, vnicType = vnic, project = "p" })).Status);
        var (status, server) = await Admin.Post("/v1/servers", new { name, flavor = "nfv", ports = ports.Select(p => p.Port).ToArray(), project = "p" });
        Assert.Equal(201, status);
        return server.Str("id");
    }

    /// <summary>The plan's vhost pins: (port, queue, CPU), in the plan's order.</summary>
    private async Task<List<(string Port, int Queue, string Cpu)>> Pins(string id) =>
        (await Admin.Get($"/v1/servers/{id}/plan")).Body.GetProperty("irqs").GetProperty("vhost").EnumerateArray()
            .Select(p => (p.GetProperty("port").GetString()!, p.GetProperty("queue").GetInt32(), p.GetProperty("cpu").GetInt32().ToString(CultureInfo.InvariantCulture))).ToList();

    [Theory]
    [InlineData("6.1.0-27-amd64", true)]
    [InlineData("5.14.0-427.13.1.el9_4.x86_64", true)]
    [InlineData("6.12.12-amd64", false)]
    public async Task A_pinned_server_with_virtio_and_macvtap_ports_is_active_with_every_worker_on_its_pin(string release, bool kernelThreads)
    {
        Kernel(release);
        var agent = Agent();
        await agent.RegisterAsync(default);
        var id = await CreateServer("vm1", ("web", "overlay", "normal"), ("mv", "lan", "macvtap"));
        var domain = "isola-" + id;
        // Two vCPUs: two queue pairs on each port, each worker on the pCPU the plan gives its queue.
        var pins = await Pins(id);
        Assert.Equal([("web", 0), ("web", 1), ("mv", 0), ("mv", 1)], pins.Select(p => (p.Port, p.Queue)));

        for (var i = 0; i < 6 && await Status(id) != "ACTIVE"; i++)
            Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Equal("ACTIVE", await Status(id));
        var pid = Host.Qemu.Pid(domain)!.Value;
        var workers = Host.Qemu.Workers(domain);
        Assert.Equal(pins.Select(p => p.Cpu), workers.Select(w => w.Cpus));
        Assert.All(workers, w => Assert.Equal(kernelThreads, w.KernelThread));
        // Where the kernel shows them: kthreadd's children under proc/, or QEMU's own tasks.
        var proc = Path.Join(Dir.Sub("root"), "proc");
        Assert.All(workers, w => Assert.Equal(kernelThreads, File.Exists(Path.Join(proc, $"{w.Tid}", "status"))));
        Assert.All(workers, w => Assert.Equal(!kernelThreads, Directory.Exists(Path.Join(proc, $"{pid}", "task", $"{w.Tid}"))));
        Assert.Empty((await agent.CycleAsync()).Done);

        // Moved behind the agent's back: pinned again, and said so.
        var moved = workers[3];
        Host.Qemu.Tamper(moved.Tid, "0-3");
        var repair = await agent.CycleAsync();
        var drift = Assert.Single(repair.Drift);
        Assert.Contains($"vhost-{pid} {(kernelThreads ? "kernel thread" : "task")} {moved.Tid} (mv queue 1): on 0-3 (want {pins[3].Cpu})", drift, StringComparison.Ordinal);
        Assert.Equal(pins.Select(p => p.Cpu), Host.Qemu.Workers(domain).Select(w => w.Cpus));

        // Deleted: QEMU goes, and its workers with it, in either form.
        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
        Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.All(workers.Append(new(pid, "")), w => Assert.False(Directory.Exists(Path.Join(proc, $"{w.Tid}"))));
    }

    [Fact]
    public async Task A_pinned_server_with_only_a_macvtap_port_has_its_worker_pinned_before_it_is_active()
    {
        Kernel("6.1.0-27-amd64");
        var agent = Agent();
        await agent.RegisterAsync(default);
        var id = await CreateServer("vm1", ("mv", "lan", "macvtap"));
        var pins = await Pins(id);
        Assert.Equal(2, pins.Count);
        var first = await agent.CycleAsync();
        Assert.Empty(first.Failures);
        Assert.Equal(pins.Select(p => p.Cpu), Host.Qemu.Workers("isola-" + id).Select(w => w.Cpus));
        for (var i = 0; i < 4 && await Status(id) != "ACTIVE"; i++)
            await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
    }
}
