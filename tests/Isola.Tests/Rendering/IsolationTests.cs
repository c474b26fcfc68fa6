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
    public void Irqs_spread_over_the_vms_pcpus_on_the_vfs_cell()
    {
        var input = RenderCases.Input("direct-dedicated");
        var plan = HostPlanner.Render(input);
        var rule = Assert.Single(plan.Irqs.Rules);
        var pins = CpuSet.Of(input.Placement.Cells![0].Pins.Select(p => p.Pcpu));
        Assert.Equal(pins, rule.Targets);
        // A passed-through VF is rebound to vfio-pci: the IRQs the inventory lists (its host
        // driver's) go away, so nothing is steered or banned until the guest's own appear.
        Assert.Empty(plan.Irqs.Known);
        Assert.Empty(plan.Isolation.BannedIrqs);
        var later = IrqAffinityPlan.Assign(rule, [301, 300, 302, 303, 304]);
        Assert.Equal([300, 301, 302, 303, 304], later.Select(a => a.Irq));
        Assert.Equal(pins.Concat(pins.Take(1)), later.Select(a => a.Cpu));
    }

    [Fact]
    public void A_macvtap_vf_keeps_its_host_driver_and_its_listed_irqs_are_steered()
    {
        var input = RenderCases.Input("macvtap");
        var plan = HostPlanner.Render(input);
        var vf = input.Host.Devices.SelectMany(d => d.Vfs).Single(v => v.Address == input.Placement.Vfs[0].Vf);
        Assert.Equal(vf.MsiIrqs, plan.Irqs.Known.Select(k => k.Irq));
        Assert.Equal(vf.MsiIrqs, plan.Isolation.BannedIrqs);
        Assert.All(plan.Irqs.Known, k => Assert.Contains(k.Cpu, input.Placement.Cells![0].Pins.Select(p => p.Pcpu)));
    }

    [Fact]
    public void A_port_may_name_the_vcpus_that_handle_its_interrupts()
    {
        var input = RenderCases.Input("mixed-policy");
        var plan = HostPlanner.Render(input);
        var pins = input.Placement.Cells![0].Pins.Where(p => p.Vcpu is 2 or 3).Select(p => p.Pcpu);
        Assert.Equal(CpuSet.Of(pins), plan.Irqs.Rules.Single().Targets);
        var bad = input with { Ports = [input.Ports[0] with { IrqVcpus = [0] }] };
        Assert.Equal("ports[0].irqVcpus", Assert.Single(Assert.Throws<RenderException>(() => HostPlanner.Render(bad)).Errors).Field);
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
        Assert.Contains("IRQBALANCE_ARGS=\"--banirq=", HostPlanner.Render(RenderCases.Input("macvtap")).Isolation.IrqbalanceDefaults.Content, StringComparison.Ordinal);
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
                Assert.All(plan.Irqs.Known, k => Assert.Contains(k.Cpu, own));
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
