using Isola.Cli;
using Isola.Cli.Local;
using Isola.Domain.Pci;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli.Local;

/// <summary>isola up's cloud (API server, simulated hosts, real agents over HTTP) with servers made and deleted through the API.</summary>
public sealed class LocalCloudTests
{
    /// <summary>The server's status once it is <paramref name="status"/>, or ERROR (it will not move on from there).</summary>
    private static Task<string> WaitFor(HttpClient api, string id, string status) =>
        Eventually.UntilAsync(async () => (await api.Get($"/v1/servers/{id}")).Body.Str("status"), now => now == status || now == "ERROR", $"server {id} {status}");

    [Fact]
    public async Task An_ha_nfv_server_goes_active_with_both_vfs_set_and_leaves_nothing_when_deleted()
    {
        using var dir = new TempDir();
        await using var cloud = await LocalCloud.StartAsync(new LocalCloudOptions(dir.Path, Hosts: 2, Urls: "http://127.0.0.1:0", Resync: TimeSpan.FromSeconds(1)));
        using var api = new HttpClient { BaseAddress = new Uri(cloud.Url) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", cloud.AdminToken);
        var (_, port) = await api.Post("/v1/ports", new { name = "bond", network = "ext", vnicType = "direct", ha = true, project = "demo" });
        var (status, server) = await api.Post("/v1/servers", new { name = "vnf1", flavor = "nfv.medium", ports = new[] { "bond" }, project = "demo" });
        Assert.Equal(201, status);
        var id = server.Str("id");
        Assert.Equal("ACTIVE", await WaitFor(api, id, "ACTIVE"));

        var host = cloud.Hosts.Single(h => h.Name == server.Str("host"));
        Assert.Equal("running", host.Simulation!.Libvirt.Domains["isola-" + id].State);
        var vfs = host.Simulation!.Nic.Programmed();
        Assert.Equal(2, vfs.Count);
        Assert.NotEqual(vfs[0].Pf, vfs[1].Pf);
        Assert.All(vfs, v => Assert.Equal((port.Str("mac"), 100, true), (v.State.Mac, v.State.Vlan, v.State.SpoofCheck)));
        Assert.All(cloud.Hosts.Where(h => h != host), h => Assert.Empty(h.Simulation!.Libvirt.Domains));

        // The VFs' interrupts: passed through, each VF's vectors are vfio-pci's once the guest enabled MSI-X (the generated
        // tree's /proc/interrupts and /proc/irq); each VF's queue vectors go to the server's pCPUs, its misc vector to a housekeeping CPU.
        var pins = server.GetProperty("placement").GetProperty("cells").EnumerateArray()
            .SelectMany(c => c.GetProperty("pins").EnumerateArray().Select(p => p.GetProperty("pcpu").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture))).ToHashSet();
        var vfAddresses = server.GetProperty("placement").GetProperty("vfs").EnumerateArray().Select(v => v.Str("vf")).ToList();
        List<string> Vectors(string vf) => Directory.GetFiles(Path.Join(host.Root, "sys", "bus", "pci", "devices", vf, "msi_irqs")).Select(f => Path.GetFileName(f)!).ToList();
        var irqs = vfAddresses.SelectMany(Vectors).ToList();
        Assert.NotEmpty(irqs);
        var interrupts = File.ReadAllText(Path.Join(host.Root, "proc", "interrupts"));
        Assert.All(vfAddresses, vf => Assert.Contains($"vfio-msix[0]({vf})", interrupts, StringComparison.Ordinal));
        string Affinity(string irq) => File.ReadAllText(Path.Join(host.Root, "proc", "irq", irq!, "smp_affinity_list")).Trim();
        bool Steered() => vfAddresses.All(vf => Vectors(vf).Count(q => pins.Contains(Affinity(q))) == Vectors(vf).Count - 1
            && Vectors(vf).Count(q => !pins.Contains(Affinity(q)) && !Affinity(q).Contains('-') && !Affinity(q).Contains(',')) == 1);
        await Eventually.UntilAsync(Steered, "each VF's queue vectors on the server's pCPUs, its misc vector on one housekeeping CPU");
        Assert.True(Steered());
        // irqbalance keeps off the dedicated pCPUs and leaves the steered IRQs alone (one file for the host).
        var irqbalance = Path.Join(host.Root, "etc", "default", "irqbalance");
        Assert.Contains("IRQBALANCE_BANNED_CPULIST=", File.ReadAllText(irqbalance), StringComparison.Ordinal);
        Assert.All(irqs, q => Assert.Contains($"--banirq={q}", File.ReadAllText(irqbalance), StringComparison.Ordinal));
        Assert.Contains(host.Simulation.Log, c => string.Join(' ', c) == "systemctl try-restart irqbalance.service");
        // Host services confined to the reserved CPUs by systemd drop-ins, systemd reloaded.
        var slice = File.ReadAllText(Path.Join(host.Root, "etc", "systemd", "system", "system.slice.d", "50-isola-cpus.conf"));
        Assert.Matches(@"AllowedCPUs=\d", slice);
        Assert.Contains(host.Simulation.Log, c => string.Join(' ', c) == "systemctl daemon-reload");
        // Moved behind the agent's back: steered again on its next cycle.
        var queue = irqs.First(q => pins.Contains(Affinity(q)));
        File.WriteAllText(Path.Join(host.Root, "proc", "irq", queue, "smp_affinity_list"), "0\n");
        await Eventually.UntilAsync(() => pins.Contains(Affinity(queue)), "the moved IRQ steered back");
        Assert.Contains(Affinity(queue), pins);

        Assert.Equal(204, (await api.Delete($"/v1/servers/{id}")).Status);
        await Eventually.UntilAsync(() => host.Simulation!.Libvirt.Domains.Count == 0 && host.Simulation!.Nic.Programmed().Count == 0, "the domain gone and the VFs reset");
        Assert.Empty(host.Simulation!.Libvirt.Domains);
        Assert.Empty(host.Simulation!.Nic.Programmed());
        // vfio-pci's vectors went with the guest; the host driver took the VFs back, under new numbers, on no pCPU of the server's.
        Assert.All(irqs, q => Assert.False(File.Exists(Path.Join(host.Root, "proc", "irq", q, "smp_affinity_list")), $"irq {q} left"));
        Assert.DoesNotContain("vfio-msix", File.ReadAllText(Path.Join(host.Root, "proc", "interrupts")), StringComparison.Ordinal);
        Assert.All(vfAddresses.SelectMany(Vectors), q => Assert.DoesNotContain(Affinity(q), pins));
        await Eventually.UntilAsync(() => !File.ReadAllText(irqbalance).Contains("--banirq", StringComparison.Ordinal), "irqbalance's file without IRQs");
        Assert.DoesNotContain("--banirq", File.ReadAllText(irqbalance), StringComparison.Ordinal);
        Assert.Contains("IRQBALANCE_BANNED_CPULIST=", File.ReadAllText(irqbalance), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Virtio_ports_on_two_hosts_get_tunnels_and_flows_to_each_other_and_nothing_is_left_when_they_go()
    {
        using var dir = new TempDir();
        await using var cloud = await LocalCloud.StartAsync(new LocalCloudOptions(dir.Path, Hosts: 2, Urls: "http://127.0.0.1:0", Resync: TimeSpan.FromSeconds(1)));
        using var api = new HttpClient { BaseAddress = new Uri(cloud.Url) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", cloud.AdminToken);
        Assert.Equal(201, (await api.Post("/v1/server-groups", new { name = "spread", policy = "anti-affinity", project = "demo" })).Status);
        var ids = new List<string>();
        foreach (var name in new[] { "g1", "g2" })
        {
            var (status, created) = await api.Post("/v1/servers", new { name, flavor = "game.small", group = "spread", project = "demo", networks = new[] { new { network = "internal" } } });
            Assert.Equal(201, status);
            ids.Add(created.Str("id"));
        }
        foreach (var id in ids)
            Assert.Equal("ACTIVE", await WaitFor(api, id, "ACTIVE"));

        var ports = (await api.Get("/v1/ports")).Body.EnumerateArray().ToList();
        string Mac(string server) => ports.Single(p => p.GetProperty("server").GetString() == server).Str("mac");
        var hostOf = new Dictionary<string, LocalHost>();
        foreach (var id in ids)
            hostOf[id] = cloud.Hosts.Single(h => h.Name == (api.Get($"/v1/servers/{id}").Result.Body.Str("host")));
        Assert.NotEqual(hostOf[ids[0]], hostOf[ids[1]]);
        var (h1, h2) = (hostOf[ids[0]], hostOf[ids[1]]);
        var ip2 = cloud.Hosts.ToList().IndexOf(h2) + 1;
        var tunnel = $"vxlan-c63364{ip2:x2}";

        // Each host: its VM's tap, a tunnel to the other host, the other VM's MAC behind it (l2population).
        Assert.Contains(tunnel, h1.Simulation!.Ovs.Ports("br-int"));
        Assert.Contains(h1.Simulation!.Ovs.Flows("br-int"), f => f.Contains($"dl_dst={Mac(ids[1])} actions=set_field:", StringComparison.Ordinal));
        Assert.Contains(h2.Simulation!.Ovs.Flows("br-int"), f => f.Contains($"dl_dst={Mac(ids[0])} actions=set_field:", StringComparison.Ordinal));

        // A flow removed behind the agent's back comes back.
        h1.Simulation!.Ovs.TamperFlows("br-int", flows => flows.Where(f => !f.Contains("table=20,", StringComparison.Ordinal)).ToList());
        await Eventually.UntilAsync(() => h1.Simulation!.Ovs.Flows("br-int").Any(f => f.Contains("table=20,", StringComparison.Ordinal)), "h1's table 20 back");
        Assert.Contains(h1.Simulation!.Ovs.Flows("br-int"), f => f.Contains("table=20,priority=100,", StringComparison.Ordinal));

        // g2 goes: h1 loses the tunnel and every trace of g2; h2 keeps no flow of anyone.
        Assert.Equal(204, (await api.Delete($"/v1/servers/{ids[1]}")).Status);
        await Eventually.UntilAsync(() => !h1.Simulation!.Ovs.Ports("br-int").Contains(tunnel)
                                          && !h1.Simulation!.Ovs.Flows("br-int").Any(f => f.Contains(Mac(ids[1]), StringComparison.Ordinal)), "h1 without the tunnel and g2's flows");
        Assert.DoesNotContain(tunnel, h1.Simulation!.Ovs.Ports("br-int"));
        Assert.DoesNotContain(h1.Simulation!.Ovs.Flows("br-int"), f => f.Contains(Mac(ids[1]), StringComparison.Ordinal));
        await Eventually.UntilAsync(() => !h2.Simulation!.Ovs.Flows("br-int").Any(f => f.Contains("dl_", StringComparison.Ordinal)), "h2 without anyone's flows");
        Assert.DoesNotContain(h2.Simulation!.Ovs.Flows("br-int"), f => f.Contains("dl_", StringComparison.Ordinal) || f.Contains("arp_tpa", StringComparison.Ordinal));
        Assert.Equal(["br-int"], h2.Simulation!.Ovs.Ports("br-int"));
    }

    [Fact]
    public async Task A_start_that_fails_once_the_server_listens_leaves_nothing_running()
    {
        using var dir = new TempDir();
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        // Fails after the server bound its address and registered the first host.
        await Assert.ThrowsAsync<InvalidOperationException>(() => LocalCloud.StartAsync(
            new LocalCloudOptions(dir.Path, Hosts: 1, Urls: $"http://127.0.0.1:{port}"), _ => throw new InvalidOperationException("stop here")));
        // The server it started is gone (and its sweeps with it): its address can be taken again.
        using var again = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        again.Start();
    }

    [Fact]
    public async Task The_demo_runs_both_scenarios_and_every_step_succeeds()
    {
        using var dir = new TempDir();
        await using var cloud = await LocalCloud.StartAsync(new LocalCloudOptions(dir.Path, Hosts: 2, Urls: "http://127.0.0.1:0", Resync: TimeSpan.FromSeconds(1)));
        var output = new StringWriter();
        var exit = await CliApp.RunAsync(["demo", "--url", cloud.Url, "--token", cloud.AdminToken], new CliConsole(output, new StringWriter(), interactive: false));
        var text = output.ToString();
        Assert.True(exit == ExitCodes.Ok, text);
        Assert.Contains("game server", text, StringComparison.Ordinal);
        Assert.Matches(@"ACTIVE after \d+\.\d s", text);
        Assert.DoesNotContain("FAIL", text, StringComparison.Ordinal);
        // Nothing of either scenario is left on any host.
        await Eventually.UntilAsync(() => cloud.Hosts.All(h => h.Simulation!.Libvirt.Domains.Count == 0 && h.Simulation!.Nic.Programmed().Count == 0), "every host empty");
        Assert.All(cloud.Hosts, h => Assert.Empty(h.Simulation!.Libvirt.Domains));
        Assert.All(cloud.Hosts, h => Assert.Empty(h.Simulation!.Nic.Programmed()));
    }
}
