using System.Globalization;
using System.Xml.Linq;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Rendering.Guest;
using Isola.Rendering.Libvirt.Nics;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Rendering.Libvirt;

/// <summary>
/// The libvirt domain XML of a placed server (libvirt 9 schema): pinning, NUMA, hugepages, locked
/// and pre-allocated memory, disk I/O limits, and one device per port, by the renderer of its vnic kind.
/// </summary>
internal static class DomainXmlRenderer
{
    public static XDocument Render(RenderInput input, string uuid, IReadOnlyList<GuestNic> nics, List<RequestError> errors)
    {
        var (placement, flavor, host) = (input.Placement, input.Flavor, input.Host);
        var compute = ExtraSpecs.Parse(flavor);
        var sets = HostCpuSets.Of(host);
        var memKiB = flavor.RamMiB * 1024;
        var domain = new XElement("domain", new XAttribute("type", host.Virt.DomainType),
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
            Devices(input, nics, errors));
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
        // KVM passes the host's CPU through; QEMU's translator cannot, and offers every feature it emulates ("maximum").
        var mode = input.Host.Virt.DomainType == HostVirtualization.Kvm ? "host-passthrough" : "maximum";
        var cpu = new XElement("cpu", new XAttribute("mode", mode), new XAttribute("check", "none"), new XAttribute("migratable", "off"),
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

    private static XElement Devices(RenderInput input, IReadOnlyList<GuestNic> nics, List<RequestError> errors)
    {
        var virt = input.Host.Virt;
        var files = InstanceFiles.Of(virt, input.Domain);
        var diskBus = nics.Count + 1;
        var configDriveBus = nics.Count + 2;
        var devices = new XElement("devices",
            new XElement("emulator", virt.Emulator),
            new XElement("controller", new XAttribute("type", "pci"), new XAttribute("index", 0), new XAttribute("model", "pcie-root")),
            Enumerable.Range(1, configDriveBus).Select(i => new XElement("controller", new XAttribute("type", "pci"), new XAttribute("index", i), new XAttribute("model", "pcie-root-port"))),
            new XElement("disk", new XAttribute("type", "file"), new XAttribute("device", "disk"),
                new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "qcow2"), new XAttribute("cache", "none"), new XAttribute("io", "native")),
                new XElement("source", new XAttribute("file", files.Disk)),
                new XElement("target", new XAttribute("dev", "vda"), new XAttribute("bus", "virtio")),
                Quotas.IoTune(input.Flavor, errors, FlavorField),
                LibvirtAddress.Guest(diskBus)),
            // The NoCloud config drive (cidata): what cloud-init reads for the network, the hostname, the keys, user-data.
            new XElement("disk", new XAttribute("type", "file"), new XAttribute("device", "disk"),
                new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "raw")),
                new XElement("source", new XAttribute("file", files.ConfigDrive)),
                new XElement("target", new XAttribute("dev", "vdb"), new XAttribute("bus", "virtio")),
                new XElement("readonly"),
                LibvirtAddress.Guest(configDriveBus)));
        var bandwidth = Quotas.Bandwidth(input.Flavor, errors, FlavorField);
        foreach (var nic in nics)
            devices.Add(Nic(input, nic, bandwidth, errors));
        // The serial console: a pty for `virsh console`, everything the guest says also kept in a file (by virtlogd) for `console log`.
        devices.Add(new XElement("serial", new XAttribute("type", "pty"),
            new XElement("log", new XAttribute("file", files.ConsoleLog), new XAttribute("append", "on")),
            new XElement("target", new XAttribute("port", 0))));
        devices.Add(new XElement("console", new XAttribute("type", "pty"), new XElement("target", new XAttribute("type", "serial"), new XAttribute("port", 0))));
        devices.Add(new XElement("memballoon", new XAttribute("model", "none")));
        return devices;
    }

    /// <summary>The port's device, by the renderer of its vnic kind (<see cref="NicRenderers"/>).</summary>
    private static XElement? Nic(RenderInput input, GuestNic nic, XElement? bandwidth, List<RequestError> errors)
    {
        var renderer = NicRenderers.For(nic.Port.VnicType) ?? throw new InvalidOperationException($"no NIC renderer for vnic type {nic.Port.Kind.WireName}");
        return renderer.Render(new NicContext(input, nic, bandwidth, $"ports[{input.Ports.ToList().IndexOf(nic.Port)}]", errors));
    }
}
