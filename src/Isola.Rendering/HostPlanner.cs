using System.Security.Cryptography;
using System.Text;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;
using Isola.Rendering.Isolation;
using Isola.Rendering.Libvirt;
using Isola.Rendering.Vf;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Rendering;

/// <summary>Makes the <see cref="HostPlan"/> of a placement. Pure: the same input gives the same plan.</summary>
public static class HostPlanner
{
    public static HostPlan Render(RenderInput input)
    {
        // A flavor the rules refuse is refused before anything reads it (ExtraSpecs would throw its own exception).
        var flavorErrors = FlavorRules.Check(input.Flavor, "flavor.");
        if (flavorErrors.Count > 0)
            throw new RenderException(flavorErrors);
        var errors = new List<RequestError>();
        var placement = input.Placement;
        for (var i = 0; i < input.Ports.Count; i++)
            errors.AddRange(PortRules.Check(input.Ports[i], $"ports[{i}]."));
        foreach (var port in input.Ports.Where(p => p.Kind.NeedsDevice))
        {
            if (placement.Vfs.All(v => v.Port != port.Name) && placement.Pfs.All(p => p.Port != port.Name) && port.Kind.PlacedDevice)
                errors.Add(new RequestError($"ports[{Index(input, port)}]", $"port {port.Name} has no device in the placement"));
        }
        foreach (var port in input.Ports)
            errors.AddRange(GuestAddresses.Check(port.Addresses, port.Gateway, port.DnsServers, $"ports[{Index(input, port)}]."));
        var nics = GuestNicLayout.Of(input.Ports);
        var uuid = input.Uuid ?? NameUuid(placement.Server);
        var xml = DomainXmlRenderer.Render(input, uuid, nics, errors);
        var vfs = VfSettingsOf(input, errors);
        if (errors.Count > 0)
            throw new RenderException(errors.Distinct().ToList());
        var irqs = IrqPlan(input, nics, errors);
        if (errors.Count > 0)
            throw new RenderException(errors.Distinct().ToList());
        var sets = HostCpuSets.Of(input.Host);
        // The IRQs irqbalance must leave alone are known only on the host, once their drivers request them: the agent adds them.
        var isolation = new HostIsolation(sets.Dedicated, sets.Reserved, []);
        var networkConfig = NetworkConfigRenderer.Render(placement.Server, nics);
        var boot = input.Boot ?? GuestBoot.Blank;
        var files = Libvirt.InstanceFiles.Of(input.Host.Virt, input.Domain);
        return new HostPlan(input.Domain, placement.Host, uuid, xml.ToString(), vfs, irqs, isolation,
            KernelAdvice.For(input.Host, placement), nics, networkConfig,
            new InstanceDisk(files.Disk, BootRules.RootDiskGiB(input.Flavor, boot.Image), boot.Image, boot.DiskVersion),
            ConfigDrive.For(uuid, placement.Server, boot.SshKeys ?? [], boot.UserData, networkConfig, irqs.Guest), files);
    }

    private static List<VfSettings> VfSettingsOf(RenderInput input, List<RequestError> errors)
    {
        var result = new List<VfSettings>();
        foreach (var vf in input.Placement.Vfs)
        {
            var port = input.Ports.FirstOrDefault(p => p.Name == vf.Port);
            if (port is null)
            {
                errors.Add(new RequestError("ports", $"the placement has a VF for port {vf.Port}, which the server does not have"));
                continue;
            }
            var field = $"ports[{Index(input, port)}]";
            var pf = input.Host.Devices.FirstOrDefault(d => d.Address == vf.Pf);
            if (pf?.NetDev is null)
            {
                errors.Add(new RequestError(field, $"PF {vf.Pf} is not a network PF of {input.Host.Hostname}"));
                continue;
            }
            // The scheduler gives a port only VFs whose PF driver can do what it needs; this is the last defence.
            errors.AddRange(PortRules.CheckDriver(port, VfDriverCapabilities.For(pf.Driver), field + "."));
            var desired = new VfState(port.Mac, port.Vlan ?? 0, port.VlanQos, port.VlanProtocol, port.SpoofCheck, port.Trust,
                port.LinkState, port.MaxTxRateMbps, port.MinTxRateMbps);
            result.Add(new VfSettings(port.Name, pf.NetDev, pf.Driver, vf.Pf, vf.Vf, vf.VfIndex, desired));
        }
        return result;
    }

    /// <summary>
    /// Both ends of every vector (docs/host-plan.md, "Interrupts, both ends"). Each port's queues are
    /// handled by its vCPUs — those the port names (<c>irqVcpus</c>, in that order), else the VM's
    /// pinned vCPUs on the device's NUMA cell, else all its pinned vCPUs — queue q by the (q mod n)-th;
    /// the host end of each queue vector (a VF's or whole PF's IRQ, a virtio queue's vhost worker) runs
    /// on the pCPU that vCPU is pinned to. The misc vector goes to the guest's vCPU 0 and, on the host,
    /// to a housekeeping CPU of the device's cell. The guest end is the config drive's map, by guest
    /// PCI address. Guests without pinned vCPUs are left to irqbalance on the reserved CPUs.
    /// </summary>
    private static IrqAffinityPlan IrqPlan(RenderInput input, IReadOnlyList<GuestNic> nics, List<RequestError> errors)
    {
        var cells = input.Placement.Cells ?? [];
        var pins = cells.SelectMany(c => c.Pins.Select(p => (p.Vcpu, p.Pcpu, c.HostCell))).OrderBy(p => p.Vcpu).ToList();
        if (pins.Count == 0)
        {
            foreach (var port in input.Ports.Where(p => p.IrqVcpus is { Count: > 0 }))
                errors.Add(new RequestError($"ports[{Index(input, port)}].irqVcpus", "the server has no pinned vCPUs (hw:cpu_policy dedicated or mixed): its interrupts stay with irqbalance"));
            return new IrqAffinityPlan([], [], []);
        }
        IReadOnlyList<VcpuPin> Queues(PortSpec port, int? hostCell)
        {
            if (port.IrqVcpus is { Count: > 0 } asked)
            {
                var missing = asked.Where(v => pins.All(p => p.Vcpu != v)).ToList();
                if (missing.Count > 0)
                    errors.Add(new RequestError($"ports[{Index(input, port)}].irqVcpus", $"vCPUs {CpuSet.Of(missing)} are not pinned vCPUs of the server"));
                return asked.Distinct().SelectMany(v => pins.Where(p => p.Vcpu == v)).Select(p => new VcpuPin(p.Vcpu, p.Pcpu)).ToList();
            }
            var local = pins.Where(p => p.HostCell == hostCell).ToList();
            return (local.Count > 0 ? local : pins).Select(p => new VcpuPin(p.Vcpu, p.Pcpu)).ToList();
        }
        var reserved = HostCpuSets.Of(input.Host).Reserved;
        VcpuPin Misc(int? hostCell, IReadOnlyList<VcpuPin> queues)
        {
            var local = CpuSet.Of(input.Host.Cpus.Where(c => c.Online && c.Cell == hostCell).Select(c => c.Id)).Intersect(reserved);
            var cpu = !local.IsEmpty ? local[0] : !reserved.IsEmpty ? reserved[0] : queues[0].Pcpu;
            return new VcpuPin(0, cpu);
        }
        var rules = new List<IrqRule>();
        var guest = new List<GuestIrqMap>();
        foreach (var vf in input.Placement.Vfs)
        {
            var port = input.Ports.First(p => p.Name == vf.Port);
            var queues = Queues(port, vf.HostCell);
            if (queues.Count == 0)
                continue; // every vCPU it names is refused above
            var pfDriver = input.Host.Devices.FirstOrDefault(d => d.Address == vf.Pf)?.Driver;
            // A VF passed through runs its VF driver in the guest and is vfio-pci's on the host; macvtap keeps the host's VF driver.
            rules.Add(new IrqRule(port.Name, vf.Vf, VectorLayout.VfDriverOf(pfDriver) ?? pfDriver ?? "unknown", !port.Kind.NeedsNetDev, queues, Misc(vf.HostCell, queues)));
        }
        foreach (var pf in input.Placement.Pfs)
        {
            var port = input.Ports.First(p => p.Name == pf.Port);
            var queues = Queues(port, pf.HostCell);
            if (queues.Count == 0)
                continue;
            rules.Add(new IrqRule(port.Name, pf.Pf, input.Host.Devices.FirstOrDefault(d => d.Address == pf.Pf)?.Driver ?? "unknown", true, queues, Misc(pf.HostCell, queues)));
        }
        var vhost = new List<VhostPin>();
        // vhost-net serves the virtio ports on taps (OVS and macvtap), one worker per queue pair, where libvirt opens it:
        // a KVM domain on a host with /dev/vhost-net (libvirt opens none for a TCG domain). Without it QEMU's own threads
        // serve the queues (the emulator pin).
        var vhostNet = input.Host.Virt.VhostNet && input.Host.Virt.DomainType == Isola.Domain.Topology.HostVirtualization.Kvm;
        // A worker lives in QEMU's emulator cgroup, whose cpuset libvirt sets to the emulator pin: with
        // hw:emulator_threads_policy=isolate that is the emulator's own pCPU, and a pin anywhere else is
        // refused (EINVAL), so there the workers run on it (docs/host-plan.md, "The cgroup rule").
        var emulator = input.Placement.EmulatorPins;
        foreach (var port in input.Ports.Where(p => p.Kind.ServedByVhostNet && vhostNet))
        {
            // One queue list per port: a macvtap port's is its VF's (the guest's map and the host's IRQ rule use it too).
            var targets = Queues(port, input.Placement.Vfs.FirstOrDefault(v => v.Port == port.Name)?.HostCell ?? cells[0].HostCell).Select(t => t.Pcpu).ToList();
            if (emulator.Count > 0)
                targets = [.. emulator];
            var queues = port.Queues ?? Math.Clamp(input.Flavor.Vcpus, 1, 8);
            for (var q = 0; q < queues && targets.Count > 0; q++)
                vhost.Add(new VhostPin(port.Name, q, targets[q % targets.Count]));
        }
        // The guest's end: every NIC, by the PCI address the layout gives it; a VF's queues as its rule has them.
        foreach (var nic in nics)
        {
            var vf = input.Placement.Vfs.Where(v => v.Port == nic.Port.Name).Skip(nic.Member).FirstOrDefault();
            var device = vf is not null ? vf.Vf : input.Placement.Pfs.FirstOrDefault(p => p.Port == nic.Port.Name)?.Pf;
            var queues = rules.FirstOrDefault(r => r.Device == device)?.Queues ?? Queues(nic.Port, cells[0].HostCell);
            if (queues.Count > 0)
                guest.Add(new GuestIrqMap(nic.Port.Name, GuestNicLayout.Address(nic), queues.Select(q => q.Vcpu).ToList(), 0));
        }
        return new IrqAffinityPlan(rules, guest, vhost);
    }

    private static int Index(RenderInput input, PortSpec port) => input.Ports.ToList().IndexOf(port);

    /// <summary>A name-based UUID (SHA-1, version 5 layout) so the same server name always gets the same UUID.</summary>
    public static string NameUuid(string name)
    {
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes("isola:" + name));
        hash[6] = (byte)((hash[6] & 0x0f) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString();
    }
}
