using System.Globalization;
using System.Xml.Linq;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Rendering.Guest;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Rendering.Domain;

/// <summary>
/// The libvirt domain XML of a placed server (libvirt 9 schema): pinning, NUMA, hugepages, locked
/// and pre-allocated memory, disk I/O limits, and one device per port as its vnic type needs.
/// </summary>
internal static class DomainXmlRenderer
{
    public static XDocument Render(RenderInput input, string uuid, IReadOnlyList<GuestNic> nics, RenderOptions options, List<RequestError> errors)
    {
        var (placement, flavor, host) = (input.Placement, input.Flavor, input.Host);
        var compute = ExtraSpecs.Parse(flavor);
        var sets = HostCpuSets.Of(host);
        var memKiB = flavor.RamMiB * 1024;
        var domain = new XElement("domain", new XAttribute("type", "kvm"),
            new XElement("name", input.Domain),
            new XElement("uuid", uuid),
            new XElement("metadata", new XElement(XName.Get("server", "https://isola.dev/xmlns/libvirt/1"),
                new XAttribute(XNamespace.Xmlns + "isola", "https://isola.dev/xmlns/libvirt/1"),
                new XAttribute("host", placement.Host), new XAttribute("flavor", flavor.Name))),
            new XElement("memory", new XAttribute("unit", "KiB"), memKiB),
            new XElement("currentMemory", new XAttribute("unit", "KiB"), memKiB),
            MemoryBacking(placement, compute),
            compute.LockedMemory ? new XElement("memtune", new XElement("hard_limit", new XAttribute("unit", "KiB"), memKiB + (1024 * 1024))) : null,
            Vcpu(flavor, placement, sets),
            CpuTune(placement, sets, host),
            NumaTune(placement),
            new XElement("os", new XElement("type", new XAttribute("arch", "x86_64"), new XAttribute("machine", "q35"), "hvm"),
                new XElement("boot", new XAttribute("dev", "hd"))),
            new XElement("features", new XElement("acpi"), new XElement("apic")),
            Cpu(flavor, placement, input),
            new XElement("clock", new XAttribute("offset", "utc")),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "restart"),
            new XElement("on_crash", "destroy"),
            Devices(input, nics, options, errors));
        return new XDocument(domain);
    }

    /// <summary>Where a plan's flavor errors are named (<see cref="FlavorRules"/>'s fields under "flavor.").</summary>
    private const string FlavorField = "flavor." + FlavorRules.ExtraSpecPrefix;

    private static XElement? MemoryBacking(Placement placement, ComputeRequest compute)
    {
        var pages = (placement.Cells ?? []).Where(c => c.PageSizeKiB > MemPageSize.SmallKiB).GroupBy(c => c.PageSizeKiB)
            .Select(g => new XElement("page", new XAttribute("size", g.Key), new XAttribute("unit", "KiB"),
                new XAttribute("nodeset", CpuSet.Of(g.Select(c => c.GuestCell)).ToString()))).ToList();
        if (pages.Count == 0 && !compute.LockedMemory)
            return null;
        return new XElement("memoryBacking",
            pages.Count > 0 ? new XElement("hugepages", pages) : null,
            compute.LockedMemory ? new XElement("locked") : null,
            new XElement("allocation", new XAttribute("mode", "immediate")));
    }

    /// <summary>Floating vCPUs (shared guests) may run only on the host's reserved CPUs, never on a pinnable one.</summary>
    private static XElement Vcpu(Flavor flavor, Placement placement, HostCpuSets sets)
    {
        var vcpu = new XElement("vcpu", new XAttribute("placement", "static"), flavor.Vcpus);
        if (placement.Cells is null)
            vcpu.Add(new XAttribute("cpuset", sets.Reserved.ToString()));
        return vcpu;
    }

    private static CpuSet CellReserved(Isola.Domain.Topology.HostTopology host, HostCpuSets sets, int cell)
    {
        var local = sets.Reserved.Intersect(host.Cells.FirstOrDefault(c => c.Id == cell)?.Cpus ?? CpuSet.Empty);
        return local.IsEmpty ? sets.Reserved : local;
    }

    private static XElement? CpuTune(Placement placement, HostCpuSets sets, Isola.Domain.Topology.HostTopology host)
    {
        if (placement.Cells is null)
            return new XElement("cputune", new XElement("emulatorpin", new XAttribute("cpuset", sets.Reserved.ToString())));
        // Shared vCPUs of a NUMA guest float on the reserved CPUs of their own cell, next to their memory.
        var pins = placement.Cells.SelectMany(c => c.Pins.Select(p => (p.Vcpu, Cpus: p.Pcpu.ToString(CultureInfo.InvariantCulture)))
            .Concat(c.SharedVcpus.Select(v => (Vcpu: v, Cpus: CellReserved(host, sets, c.HostCell).ToString())))).OrderBy(p => p.Vcpu);
        var pinned = CpuSet.Of(placement.Cells.SelectMany(c => c.Pins.Select(p => p.Pcpu)));
        var emulator = placement.EmulatorPins.Count > 0 ? CpuSet.Of(placement.EmulatorPins) : pinned.IsEmpty ? sets.Reserved : pinned;
        return new XElement("cputune",
            pins.Select(p => new XElement("vcpupin", new XAttribute("vcpu", p.Vcpu), new XAttribute("cpuset", p.Cpus))),
            new XElement("emulatorpin", new XAttribute("cpuset", emulator.ToString())));
    }

    private static XElement? NumaTune(Placement placement)
    {
        if (placement.Cells is null)
            return null;
        return new XElement("numatune",
            new XElement("memory", new XAttribute("mode", "strict"), new XAttribute("nodeset", CpuSet.Of(placement.Cells.Select(c => c.HostCell)).ToString())),
            placement.Cells.OrderBy(c => c.GuestCell).Select(c => new XElement("memnode",
                new XAttribute("cellid", c.GuestCell), new XAttribute("mode", "strict"), new XAttribute("nodeset", c.HostCell))));
    }

    private static XElement Cpu(Flavor flavor, Placement placement, RenderInput input)
    {
        var t = GuestCpuTopology.Of(flavor.Vcpus, placement, input.Host);
        var cpu = new XElement("cpu", new XAttribute("mode", "host-passthrough"), new XAttribute("check", "none"), new XAttribute("migratable", "off"),
            new XElement("topology", new XAttribute("sockets", t.Sockets), new XAttribute("dies", 1), new XAttribute("cores", t.Cores), new XAttribute("threads", t.Threads)));
        if (placement.Cells is not null)
        {
            cpu.Add(new XElement("numa", placement.Cells.OrderBy(c => c.GuestCell).Select(c => new XElement("cell",
                new XAttribute("id", c.GuestCell),
                new XAttribute("cpus", CpuSet.Of(c.Pins.Select(p => p.Vcpu).Concat(c.SharedVcpus)).ToString()),
                new XAttribute("memory", c.MemMiB * 1024), new XAttribute("unit", "KiB")))));
        }
        return cpu;
    }

    private static XElement Devices(RenderInput input, IReadOnlyList<GuestNic> nics, RenderOptions options, List<RequestError> errors)
    {
        var placement = input.Placement;
        var diskBus = nics.Count + 1;
        var devices = new XElement("devices",
            new XElement("emulator", options.Emulator),
            new XElement("controller", new XAttribute("type", "pci"), new XAttribute("index", 0), new XAttribute("model", "pcie-root")),
            Enumerable.Range(1, diskBus).Select(i => new XElement("controller", new XAttribute("type", "pci"), new XAttribute("index", i), new XAttribute("model", "pcie-root-port"))),
            new XElement("disk", new XAttribute("type", "file"), new XAttribute("device", "disk"),
                new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "qcow2"), new XAttribute("cache", "none"), new XAttribute("io", "native")),
                new XElement("source", new XAttribute("file", $"{options.InstancesDirectory}/{input.Domain}/disk.qcow2")),
                new XElement("target", new XAttribute("dev", "vda"), new XAttribute("bus", "virtio")),
                Quotas.IoTune(input.Flavor, errors, FlavorField),
                GuestAddress(diskBus)));
        var bandwidth = Quotas.Bandwidth(input.Flavor, errors, FlavorField);
        foreach (var nic in nics)
            devices.Add(Nic(input, nic, bandwidth, errors));
        devices.Add(new XElement("console", new XAttribute("type", "pty")));
        devices.Add(new XElement("memballoon", new XAttribute("model", "none")));
        return devices;
    }

    private static XElement? Nic(RenderInput input, GuestNic nic, XElement? bandwidth, List<RequestError> errors)
    {
        var port = nic.Port;
        var field = $"ports[{input.Ports.ToList().IndexOf(port)}]";
        var mac = new XElement("mac", new XAttribute("address", port.Mac));
        switch (port.VnicType)
        {
            case VnicType.Direct:
            {
                var vf = Vf(input, port, nic.Member, field, errors);
                return vf is null ? null : new XElement("interface", new XAttribute("type", "hostdev"), new XAttribute("managed", "yes"), mac,
                    new XElement("driver", new XAttribute("name", "vfio")),
                    new XElement("source", HostAddress(vf.Vf)),
                    port.Vlan is { } vlan and > 0 ? new XElement("vlan", new XElement("tag", new XAttribute("id", vlan))) : null,
                    GuestAddress(nic.Bus));
            }
            case VnicType.DirectPhysical:
            {
                var pf = input.Placement.Pfs.FirstOrDefault(p => p.Port == port.Name);
                if (pf is null)
                {
                    errors.Add(new RequestError(field, $"the placement gives port {port.Name} no PF"));
                    return null;
                }
                return new XElement("hostdev", new XAttribute("mode", "subsystem"), new XAttribute("type", "pci"), new XAttribute("managed", "yes"),
                    new XElement("source", HostAddress(pf.Pf, typed: false)), GuestAddress(nic.Bus));
            }
            case VnicType.Macvtap:
            {
                var vf = Vf(input, port, 0, field, errors);
                if (vf is null)
                    return null;
                var netDev = input.Host.Devices.SelectMany(d => d.Vfs).FirstOrDefault(v => v.Address == vf.Vf)?.NetDev;
                if (netDev is null)
                {
                    errors.Add(new RequestError(field, $"macvtap needs the host netdev of VF {vf.Vf}, which has none (no host driver bound)"));
                    return null;
                }
                return new XElement("interface", new XAttribute("type", "direct"), mac,
                    new XElement("source", new XAttribute("dev", netDev), new XAttribute("mode", "passthrough")),
                    new XElement("model", new XAttribute("type", "virtio")), GuestAddress(nic.Bus));
            }
            case VnicType.Vdpa:
                if (port.VdpaDevice is null)
                {
                    errors.Add(new RequestError($"{field}.vdpaDevice", "a vdpa port needs its /dev/vhost-vdpa-N device"));
                    return null;
                }
                return new XElement("interface", new XAttribute("type", "vdpa"), mac,
                    new XElement("source", new XAttribute("dev", port.VdpaDevice)), GuestAddress(nic.Bus));
            default:
            {
                var id = port.PortId ?? HostPlanner.NameUuid($"{input.Placement.Server}/{port.Name}");
                var queues = port.Queues ?? Math.Clamp(input.Flavor.Vcpus, 1, 8);
                return new XElement("interface", new XAttribute("type", "bridge"), mac,
                    new XElement("source", new XAttribute("bridge", port.Bridge)),
                    new XElement("virtualport", new XAttribute("type", "openvswitch"), new XElement("parameters", new XAttribute("interfaceid", id))),
                    new XElement("target", new XAttribute("dev", Flows.TapNames.Of(id))),
                    new XElement("model", new XAttribute("type", "virtio")),
                    new XElement("driver", new XAttribute("name", "vhost"), new XAttribute("queues", queues)),
                    port.Mtu != 1500 ? new XElement("mtu", new XAttribute("size", port.Mtu)) : null,
                    bandwidth is null ? null : new XElement(bandwidth),
                    GuestAddress(nic.Bus));
            }
        }
    }

    private static VfAssignment? Vf(RenderInput input, PortSpec port, int member, string field, List<RequestError> errors)
    {
        var vfs = input.Placement.Vfs.Where(v => v.Port == port.Name).ToList();
        if (vfs.Count > member)
            return vfs[member];
        errors.Add(new RequestError(field, $"the placement gives port {port.Name} {vfs.Count} VF(s); it needs {member + 1}"));
        return null;
    }

    /// <summary>A host PCI address; <c>&lt;hostdev&gt;</c>'s source takes it without the type attribute.</summary>
    private static XElement HostAddress(PciAddress a, bool typed = true) => new("address", typed ? new XAttribute("type", "pci") : null,
        new XAttribute("domain", $"0x{a.Domain:x4}"), new XAttribute("bus", $"0x{a.Bus:x2}"), new XAttribute("slot", $"0x{a.Device:x2}"), new XAttribute("function", $"0x{a.Function:x1}"));

    private static XElement GuestAddress(int bus) => new("address", new XAttribute("type", "pci"),
        new XAttribute("domain", "0x0000"), new XAttribute("bus", $"0x{bus:x2}"), new XAttribute("slot", "0x00"), new XAttribute("function", "0x0"));
}
