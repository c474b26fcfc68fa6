using FsCheck;
using FsCheck.Fluent;
using Isola.Domain.Cpu;
using Isola.Rendering;
using Isola.Rendering.Guest;
using Isola.Rendering.Isolation;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Tests.Scheduling;
using YamlDotNet.RepresentationModel;

namespace Isola.Tests.Rendering;

public class IsolationTests
{
    [Fact]
    public void Each_queue_goes_to_the_pcpu_of_its_vcpu_on_the_vfs_cell_and_the_misc_vector_to_a_housekeeping_cpu_there()
    {
        var input = RenderCases.Input("direct-dedicated");
        var plan = HostPlanner.Render(input);
        var rule = Assert.Single(plan.Irqs.Rules);
        var vf = input.Placement.Vfs.Single();
        var pins = input.Placement.Cells!.Where(c => c.HostCell == vf.HostCell).SelectMany(c => c.Pins).OrderBy(p => p.Vcpu).ToList();
        Assert.Equal(pins, rule.Queues);
        Assert.Equal((vf.Vf, true), (rule.Device, rule.Passthrough));
        // The guest runs the VF driver of the PF's driver.
        var pf = input.Host.Devices.Single(d => d.Address == vf.Pf);
        Assert.Equal(VectorLayout.VfDriverOf(pf.Driver), rule.Driver);
        var reserved = HostCpuSets.Of(input.Host).Reserved;
        Assert.Contains(rule.Misc.Pcpu, reserved);
        Assert.Equal(vf.HostCell, input.Host.Cpus.Single(c => c.Id == rule.Misc.Pcpu).Cell);
        Assert.Equal(0, rule.Misc.Vcpu);
        // A passed-through VF is rebound to vfio-pci: nothing is known or banned until the guest's vectors appear.
        Assert.Empty(plan.Isolation.BannedIrqs);
    }

    [Fact]
    public void Vfio_vectors_are_told_apart_by_the_entry_their_name_carries_not_by_irq_order()
    {
        var rule = new IrqRule("p", new Isola.Domain.Pci.PciAddress(0, 0x3b, 0x10, 1), "igbvf", true, [new VcpuPin(2, 5), new VcpuPin(3, 7)], new VcpuPin(0, 0));
        // igbvf: entry 0 tx-0, entry 1 rx-0 (queue 0 both), entry 2 the mailbox; numbers given out of order.
        var vectors = new[] { new HostVector(302, "vfio-msix[0](0000:3b:10.1)"), new HostVector(300, "vfio-msix[2](0000:3b:10.1)"), new HostVector(301, "vfio-msix[1](0000:3b:10.1)") };
        Assert.Equal([(300, 0, "misc"), (301, 5, "queue 0"), (302, 5, "queue 0")], IrqAffinityPlan.Assign(rule, vectors).Select(a => (a.Irq, a.Cpu, a.Serves)));
        // ixgbevf, 2 queues: entries 0 and 1 are queues, the last one the mailbox; iavf: entry 0 is.
        var ixgbevf = rule with { Driver = "ixgbevf" };
        Assert.Equal([(10, 5), (11, 7), (12, 0)], IrqAffinityPlan.Assign(ixgbevf, Vfio(10, 3)).Select(a => (a.Irq, a.Cpu)));
        Assert.Equal([(10, 0), (11, 5), (12, 7)], IrqAffinityPlan.Assign(rule with { Driver = "iavf" }, Vfio(10, 3)).Select(a => (a.Irq, a.Cpu)));
        // igbvf on a netdev of 11 characters or more names all three vectors after it: their order is their entries'.
        var longName = Enumerable.Range(0, 3).Select(e => new HostVector(60 + e, "enp134s16f1")).ToList();
        Assert.Equal(["queue 0", "queue 0", "misc"], IrqAffinityPlan.Assign(rule with { Passthrough = false }, longName, "enp134s16f1").Select(a => a.Serves));
        // A driver Isola has no facts for: every vector a queue, in IRQ order.
        Assert.Equal([(10, 5), (11, 7), (12, 5)], IrqAffinityPlan.Assign(rule with { Driver = "acme" }, Vfio(10, 3)).Select(a => (a.Irq, a.Cpu)));
        // Vectors not requested yet (no name) are left for the next cycle.
        Assert.Empty(IrqAffinityPlan.Assign(rule, [new HostVector(40, null)]));
    }

    private static List<HostVector> Vfio(int first, int count) =>
        Enumerable.Range(0, count).Select(e => new HostVector(first + e, $"vfio-msix[{e}](0000:3b:10.1)")).ToList();

    /// <summary>The names each driver gives its vectors (the kernel's format strings, docs/host-plan.md), and what each serves.</summary>
    [Theory]
    [InlineData("igbvf", "eth1", "eth1-tx-0|eth1-rx-0|eth1", "queue 0|queue 0|misc")]
    [InlineData("ixgbevf", "ens2", "ens2-TxRx-0|ens2-TxRx-1|ens2", "queue 0|queue 1|misc")]
    [InlineData("iavf", "ens3", "iavf-0000:3b:02.0:mbx|iavf-ens3-TxRx-0|iavf-ens3-TxRx-1", "misc|queue 0|queue 1")]
    [InlineData("mlx5_core", "ens4", "mlx5_comp0@pci:0000:3b:00.2|mlx5_comp1@pci:0000:3b:00.2|mlx5_async2@pci:0000:3b:00.2", "queue 0|queue 1|misc")]
    [InlineData("igb", "eno1", "eno1|eno1-TxRx-0|eno1-TxRx-1", "misc|queue 0|queue 1")]
    [InlineData("ixgbe", "ens5", "ens5-TxRx-0|ens5-TxRx-1|ens5", "queue 0|queue 1|misc")]
    [InlineData("i40e", "ens6", "i40e-0000:3b:00.0:misc|i40e-ens6-TxRx-0|i40e-0000:3b:00.0:fdir-TxRx-0", "misc|queue 0|misc")]
    [InlineData("ice", "ens7", "ice-0000:3b:00.0:misc|ice-ens7-TxRx-0|ice-ens7-TxRx-1", "misc|queue 0|queue 1")]
    [InlineData("virtio-pci", null, "virtio0-config|virtio0-input.0|virtio0-output.0|virtio0-input.1", "misc|queue 0|queue 0|queue 1")]
    public void A_drivers_vector_names_say_what_each_serves(string driver, string? netdev, string names, string roles)
    {
        var layout = VectorLayout.Of(driver);
        Assert.Equal(roles.Split('|'), names.Split('|').Select(n => layout.OfName(n, netdev, -1)?.ToString()));
    }

    [Fact]
    public void A_macvtap_vf_keeps_its_host_driver_whose_named_vectors_are_steered()
    {
        var input = RenderCases.Input("macvtap");
        var plan = HostPlanner.Render(input);
        var rule = Assert.Single(plan.Irqs.Rules);
        Assert.False(rule.Passthrough);
        var vf = input.Host.Devices.SelectMany(d => d.Vfs).Single(v => v.Address == input.Placement.Vfs[0].Vf);
        // Its host driver requests the vectors with its netdev's name; they are steered by name, not by number.
        var vectors = vf.MsiIrqs.Select((irq, i) => new HostVector(irq, Isola.Host.Hardware.SysfsTreeWriter.VectorName(vf.Driver, vf.NetDev!, vf.Address, i, vf.MsiIrqs.Count))).ToList();
        var assigned = IrqAffinityPlan.Assign(rule, vectors, vf.NetDev);
        Assert.Equal(vf.MsiIrqs, assigned.Select(a => a.Irq));
        // Whichever entry the VF's driver gives its mailbox (iavf: the first), that one goes to the housekeeping CPU.
        var misc = VectorLayout.Of(vf.Driver).Misc == MiscEntry.First ? 0 : vf.MsiIrqs.Count - 1;
        Assert.Equal((rule.Misc.Pcpu, "misc"), (assigned[misc].Cpu, assigned[misc].Serves));
        Assert.All(assigned.Where((_, i) => i != misc), a => Assert.Contains(a.Cpu, input.Placement.Cells![0].Pins.Select(p => p.Pcpu)));
        Assert.Empty(plan.Isolation.BannedIrqs);
    }

    [Fact]
    public void A_port_may_name_the_vcpus_that_handle_its_queues_in_order()
    {
        var input = RenderCases.Input("mixed-policy");
        var plan = HostPlanner.Render(input);
        var pins = input.Placement.Cells![0].Pins.Where(p => p.Vcpu is 2 or 3).Select(p => p.Pcpu);
        Assert.Equal(CpuSet.Of(pins), plan.Irqs.Rules.Single().Targets);
        var reversed = HostPlanner.Render(input with { Ports = [input.Ports[0] with { IrqVcpus = [3, 2] }] });
        Assert.Equal([3, 2], reversed.Irqs.Rules.Single().Queues.Select(q => q.Vcpu));
        Assert.Equal([3, 2], reversed.Irqs.Guest.Single().QueueVcpus);
        var bad = input with { Ports = [input.Ports[0] with { IrqVcpus = [0] }] };
        Assert.Equal("ports[0].irqVcpus", Assert.Single(Assert.Throws<RenderException>(() => HostPlanner.Render(bad)).Errors).Field);
        // A server with nothing pinned has no vCPU to name.
        var shared = RenderCases.Input("virtio-shared");
        var refused = Assert.Throws<RenderException>(() => HostPlanner.Render(shared with { Ports = [shared.Ports[0] with { IrqVcpus = [0] }] }));
        Assert.Equal("ports[0].irqVcpus", Assert.Single(refused.Errors).Field);
    }

    [Fact]
    public void The_guests_end_is_on_the_config_drive_by_guest_pci_address_with_the_script_cloud_init_runs_at_every_boot()
    {
        var input = RenderCases.Input("ha-active-backup");
        var plan = HostPlanner.Render(input);
        var files = plan.ConfigDrive!.Files.ToDictionary(f => f.Name, f => f.Content);
        // One line per NIC: the two legs of the HA bond and the virtio port, on the buses the layout gives them.
        var lines = files[GuestIrqScript.MapFile].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(plan.Nics.Select(n => GuestNicLayout.Address(n)), lines.Select(l => l.Split(' ')[0]));
        Assert.Equal(plan.Irqs.Guest.Select(g => g.Line), lines);
        Assert.All(lines, l => Assert.EndsWith(" 0", l, StringComparison.Ordinal));
        Assert.StartsWith("#!/bin/sh", files["vendor-data"], StringComparison.Ordinal);
        Assert.Contains(GuestIrqScript.PerBoot, files["vendor-data"], StringComparison.Ordinal);
        Assert.Contains(files[GuestIrqScript.ScriptFile], files["vendor-data"], StringComparison.Ordinal);
        // A guest with nothing pinned has nothing to steer: the drive is the three NoCloud files.
        Assert.Equal(["meta-data", "user-data", "network-config"], HostPlanner.Render(RenderCases.Input("virtio-shared")).ConfigDrive!.Files.Select(f => f.Name));
    }

    [Fact]
    public void Vhost_threads_are_pinned_like_interrupts()
    {
        var input = RenderCases.Input("ha-active-backup");
        var plan = HostPlanner.Render(input);
        var pins = input.Placement.Cells![0].Pins.Select(p => p.Pcpu).ToList();
        Assert.Equal([("int", 0, pins[0]), ("int", 1, pins[1])], plan.Irqs.Vhost.Select(v => (v.Port, v.Queue, v.Cpu)));
    }

    [Fact]
    public void With_isolated_emulator_threads_the_vhost_workers_run_on_the_emulators_pcpu_the_only_cpu_of_their_cgroup()
    {
        var input = RenderCases.Input("ha-active-backup");
        var free = CpuSet.Of(input.Host.Cpus.Select(c => c.Id)).Except(HostCpuSets.Of(input.Host).Reserved).Except(CpuSet.Of(input.Placement.AllPinned)).First();
        var plan = HostPlanner.Render(input with { Placement = input.Placement with { EmulatorPins = [free] } });
        Assert.Contains($"<emulatorpin cpuset=\"{free}\" />", plan.DomainXml, StringComparison.Ordinal);
        Assert.Equal([("int", 0, free), ("int", 1, free)], plan.Irqs.Vhost.Select(v => (v.Port, v.Queue, v.Cpu)));
        // The interrupts still follow the vCPUs.
        Assert.All(plan.Irqs.Rules, r => Assert.DoesNotContain(free, r.Targets));
    }

    [Fact]
    public void A_macvtap_ports_vhost_workers_are_pinned_one_per_queue_pair_the_domain_opens()
    {
        var input = RenderCases.Input("macvtap");
        var plan = HostPlanner.Render(input);
        var pins = input.Placement.Cells![0].Pins.Select(p => p.Pcpu).ToList();
        Assert.Equal([("lan", 0, pins[0]), ("lan", 1, pins[1])], plan.Irqs.Vhost.Select(v => (v.Port, v.Queue, v.Cpu)));
        // QEMU opens exactly as many vhost-net devices as the interface has queues: one worker per pin.
        var driver = System.Xml.Linq.XDocument.Parse(plan.DomainXml).Descendants("interface").Single().Element("driver")!;
        Assert.Equal(("vhost", plan.Irqs.Vhost.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ((string?)driver.Attribute("name"), (string?)driver.Attribute("queues")));
    }

    [Fact]
    public void A_tcg_domain_gets_no_vhost_pins_even_where_the_host_has_vhost_net()
    {
        // libvirt opens vhost-net only for KVM domains: a TCG domain's queues are QEMU's own threads.
        foreach (var name in new[] { "ha-active-backup", "macvtap" })
        {
            var input = RenderCases.Input(name);
            var tcg = input with { Host = input.Host with { Virtualization = input.Host.Virt with { DomainType = Isola.Domain.Topology.HostVirtualization.Qemu, VhostNet = true } } };
            Assert.NotEmpty(HostPlanner.Render(input).Irqs.Vhost);
            Assert.Empty(HostPlanner.Render(tcg).Irqs.Vhost);
        }
    }

    [Fact]
    public void Host_files_ban_dedicated_cpus_from_irqbalance_and_keep_services_on_reserved_ones()
    {
        var plan = HostPlanner.Render(RenderCases.Input("direct-dedicated"));
        Assert.Equal("1-3,5-7,9-11,13-15", plan.Isolation.Dedicated.ToString());
        Assert.Contains("IRQBALANCE_BANNED_CPULIST=1-3,5-7,9-11,13-15\n", plan.Isolation.IrqbalanceDefaults.Content, StringComparison.Ordinal);
        Assert.DoesNotContain("IRQBALANCE_ARGS", plan.Isolation.IrqbalanceDefaults.Content, StringComparison.Ordinal);
        Assert.Equal(["/etc/systemd/system/system.slice.d/50-isola-cpus.conf", "/etc/systemd/system/user.slice.d/50-isola-cpus.conf", "/etc/systemd/system/init.scope.d/50-isola-cpus.conf"],
            plan.Isolation.SliceDropIns.Select(f => f.Path));
        Assert.All(plan.Isolation.SliceDropIns, f => Assert.Contains("AllowedCPUs=0,4,8,12\n", f.Content, StringComparison.Ordinal));
    }

    [Fact]
    public void Shared_guests_float_on_reserved_cpus_only()
    {
        var plan = HostPlanner.Render(RenderCases.Input("virtio-shared"));
        Assert.Contains("<vcpu placement=\"static\" cpuset=\"0,4,8,12\">2</vcpu>", plan.DomainXml, StringComparison.Ordinal);
        Assert.Contains("<emulatorpin cpuset=\"0,4,8,12\" />", plan.DomainXml, StringComparison.Ordinal);
        Assert.Empty(plan.Irqs.Rules);
    }

    [Fact]
    public void Kernel_advice_names_what_the_host_lacks()
    {
        var input = RenderCases.Input("direct-dedicated");
        var k = input.Host.Kernel;
        // The case host boots with isolation and iommu=pt: nothing to say.
        Assert.Empty(HostPlanner.Render(input).Advice);
        var bare = input with { Host = input.Host with { Kernel = Isola.Domain.Topology.KernelCommandLine.Parse("ro quiet", out _), IommuActive = false } };
        var advice = HostPlanner.Render(bare).Advice.Select(a => a.Parameter).ToList();
        Assert.Contains(advice, a => a.StartsWith("intel_iommu=on iommu=pt", StringComparison.Ordinal));
        Assert.Contains(advice, a => a.StartsWith("isolcpus=managed_irq,domain,1-3,5-7,9-11,13-15 nohz_full=", StringComparison.Ordinal));
        Assert.Contains("hugepagesz=1G hugepages=16", advice);
        Assert.NotNull(k);
    }

    [Fact]
    public void Every_value_from_a_port_stays_one_yaml_scalar()
    {
        // The renderer refuses such a port (GuestAddresses); the network config is written so that even one that slipped past could not add YAML.
        const string gateway = "192.0.2.1\n    evil: true";
        const string dns = "192.0.2.53]\n      injected: [x\"\\";
        var port = new PortSpec("lan", VnicType.Direct, "fa:16:3e:00:00:01", Addresses: ["192.0.2.10/24"], Gateway: gateway, DnsServers: [dns, "192.0.2.54"]);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(NetworkConfigRenderer.Render("vm", GuestNicLayout.Of([port]))));
        var nic = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["network"])["ethernets"])["lan"];
        Assert.Equal(["match", "set-name", "dhcp4", "addresses", "routes", "nameservers"], nic.Children.Keys.Select(k => k.ToString()));
        Assert.Equal(gateway, ((YamlMappingNode)((YamlSequenceNode)nic["routes"]).Children[0])["via"].ToString());
        Assert.Equal([dns, "192.0.2.54"], ((YamlSequenceNode)((YamlMappingNode)nic["nameservers"])["addresses"]).Children.Select(c => c.ToString()));
    }

    [Fact]
    public void The_default_route_goes_to_every_address_of_the_gateways_family_as_cloud_init_22_reads_it()
    {
        // Debian 12's cloud-init (22.4) refuses netplan's "to: default" ("Address default is not a valid ip address") and
        // then applies no network config at all: the destination is written as a network.
        RouteOf(new PortSpec("lan", VnicType.Normal, "fa:16:3e:00:00:01", Addresses: ["192.0.2.10/24"], Gateway: "192.0.2.1"), "0.0.0.0/0", "192.0.2.1");
        RouteOf(new PortSpec("lan", VnicType.Normal, "fa:16:3e:00:00:01", Addresses: ["2001:db8::10/64"], Gateway: "2001:db8::1"), "::/0", "2001:db8::1");

        static void RouteOf(PortSpec port, string to, string via)
        {
            var text = NetworkConfigRenderer.Render("vm", GuestNicLayout.Of([port]));
            Assert.DoesNotContain("default", text, StringComparison.Ordinal);
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text));
            var nic = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["network"])["ethernets"])["lan"];
            var route = (YamlMappingNode)Assert.Single(((YamlSequenceNode)nic["routes"]).Children);
            Assert.Equal((to, via), (route["to"].ToString(), route["via"].ToString()));
        }
    }

    [Fact]
    public void Network_configs_are_valid_yaml_with_the_bond_over_both_vfs()
    {
        foreach (var (name, mode) in new[] { ("ha-active-backup", "active-backup"), ("ha-balance-xor", "balance-xor"), ("ha-balance-rr", "balance-rr") })
        {
            var plan = HostPlanner.Render(RenderCases.Input(name));
            var yaml = new YamlStream();
            yaml.Load(new StringReader(plan.NetworkConfig));
            var network = (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["network"];
            Assert.Equal("2", network["version"].ToString());
            var bond = (YamlMappingNode)((YamlMappingNode)network["bonds"])["bond"];
            Assert.Equal(["bond0", "bond1"], ((YamlSequenceNode)bond["interfaces"]).Children.Select(c => c.ToString()));
            Assert.Equal(mode, ((YamlMappingNode)bond["parameters"])["mode"].ToString());
            Assert.Equal("fa:16:3e:10:00:04", bond["macaddress"].ToString());
            var ethernets = (YamlMappingNode)network["ethernets"];
            Assert.Equal("enp1s0", ((YamlMappingNode)((YamlMappingNode)ethernets["bond0"])["match"])["name"].ToString());
            Assert.Equal("enp2s0", ((YamlMappingNode)((YamlMappingNode)ethernets["bond1"])["match"])["name"].ToString());
        }
    }

    /// <summary>
    /// Over random fleets and request streams: the domain pins every vCPU to the pCPU its placement
    /// gave it; no IRQ or vhost thread of a VM points at a CPU that is not the VM's own; the banned
    /// list covers every dedicated pCPU.
    /// </summary>
    [Fact]
    public void Plans_keep_every_vm_on_its_own_cpus() =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(Gen.Choose(0, int.MaxValue - 1).ToArbitrary(), seed =>
        {
            var s = new RandomScenario(seed);
            var fleet = new FleetState();
            foreach (var h in s.Hosts)
                fleet.AddHost(h);
            foreach (var g in new[] { ("anti", GroupPolicy.AntiAffinity), ("aff", GroupPolicy.Affinity), ("soft", GroupPolicy.SoftAntiAffinity) })
                fleet.AddGroup(g.Item1, g.Item2);
            var placer = new Placer(fleet);
            foreach (var request in s.Operations.OfType<RandomScenario.Place>().Select(p => p.Request))
            {
                if (placer.Place(request).Placement is not { } p)
                    continue;
                var flavor = new Flavor("f", request.Compute.Vcpus, request.Compute.RamMiB, 10, FlavorSpecs(request));
                var plan = HostPlanner.Render(new RenderInput(p, flavor, request.Ports.Select(PortSpec.From).ToList(), fleet.Host(p.Host)!.Topology));
                var own = CpuSet.Of(p.AllPinned);
                foreach (var cell in p.Cells ?? [])
                {
                    foreach (var pin in cell.Pins)
                        Assert.Contains($"<vcpupin vcpu=\"{pin.Vcpu}\" cpuset=\"{pin.Pcpu}\" />", plan.DomainXml, StringComparison.Ordinal);
                }
                Assert.All(plan.Irqs.Rules, r => Assert.True(r.Targets.IsSubsetOf(own), $"seed {seed}: IRQs of {p.Server} go to {r.Targets}, its CPUs are {own}"));
                Assert.All(plan.Irqs.Rules, r => Assert.True(!own.Contains(r.Misc.Pcpu) || plan.Isolation.Reserved.IsEmpty, $"seed {seed}: the misc vector of {p.Server} on its own pCPU {r.Misc.Pcpu}"));
                Assert.All(plan.Irqs.Vhost, v => Assert.Contains(v.Cpu, own));
                Assert.True(own.IsSubsetOf(plan.Isolation.Dedicated), $"seed {seed}: pinned {own} outside the banned list {plan.Isolation.Dedicated}");
            }
            return true;
        }));

    private static Dictionary<string, string> FlavorSpecs(PlacementRequest request)
    {
        // The scenario's requests were made from flavors; rebuild the specs the plan needs.
        var c = request.Compute;
        var specs = new Dictionary<string, string>();
        if (c.Cells is null)
            return specs;
        specs[ExtraSpecs.CpuPolicyKey] = "dedicated";
        specs[ExtraSpecs.MemPageSizeKey] = c.PageSize.Kind switch { PageSizeKind.Explicit => $"{c.PageSize.SizeKiB}", PageSizeKind.Small => "small", _ => c.PageSize.Kind.ToString().ToLowerInvariant() };
        specs[ExtraSpecs.CpuThreadPolicyKey] = c.ThreadPolicy.ToString().ToLowerInvariant();
        specs[ExtraSpecs.NumaNodesKey] = c.Cells.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (c.EmulatorPcpus > 0)
            specs[ExtraSpecs.EmulatorThreadsPolicyKey] = "isolate";
        return specs;
    }
}
