using System.Security.Cryptography;
using System.Text;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;
using Isola.Rendering.Isolation;
using Isola.Rendering.Libvirt;
using Isola.Rendering.Vf;
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
        var irqs = IrqPlan(input, errors);
        if (errors.Count > 0)
            throw new RenderException(errors.Distinct().ToList());
        var sets = HostCpuSets.Of(input.Host);
        var isolation = new HostIsolation(sets.Dedicated, sets.Reserved, irqs.Known.Select(k => k.Irq).Order().ToList());
        var networkConfig = NetworkConfigRenderer.Render(placement.Server, nics);
        var boot = input.Boot ?? GuestBoot.Blank;
        var files = Libvirt.InstanceFiles.Of(input.Host.Virt, input.Domain);
        return new HostPlan(input.Domain, placement.Host, uuid, xml.ToString(), vfs, irqs, isolation,
            KernelAdvice.For(input.Host, placement), nics, networkConfig,
            new InstanceDisk(files.Disk, BootRules.RootDiskGiB(input.Flavor, boot.Image), boot.Image, boot.DiskVersion),
            ConfigDrive.For(uuid, placement.Server, boot.SshKeys ?? [], boot.UserData, networkConfig), files);
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
    /// Each VF's IRQs go to the pCPUs of the vCPUs that handle them: those the port names, else the
    /// VM's vCPUs on the VF's NUMA cell, else all its pinned vCPUs. vhost threads of virtio ports go
    /// the same way. Guests without pinned vCPUs are left to irqbalance on the reserved CPUs.
    /// </summary>
    private static IrqAffinityPlan IrqPlan(RenderInput input, List<RequestError> errors)
    {
        var cells = input.Placement.Cells ?? [];
        var pins = cells.SelectMany(c => c.Pins.Select(p => (p.Vcpu, p.Pcpu, c.HostCell))).OrderBy(p => p.Vcpu).ToList();
        if (pins.Count == 0)
            return new IrqAffinityPlan([], [], []);
        CpuSet Targets(PortSpec port, int? hostCell)
        {
            if (port.IrqVcpus is { Count: > 0 } asked)
            {
                var missing = asked.Where(v => pins.All(p => p.Vcpu != v)).ToList();
                if (missing.Count > 0)
                    errors.Add(new RequestError($"ports[{Index(input, port)}].irqVcpus", $"vCPUs {CpuSet.Of(missing)} are not pinned vCPUs of the server"));
                return CpuSet.Of(pins.Where(p => asked.Contains(p.Vcpu)).Select(p => p.Pcpu));
            }
            var local = pins.Where(p => p.HostCell == hostCell).Select(p => p.Pcpu).ToList();
            return CpuSet.Of(local.Count > 0 ? local : pins.Select(p => p.Pcpu));
        }
        var rules = new List<IrqRule>();
        var known = new List<IrqAssignment>();
        foreach (var vf in input.Placement.Vfs)
        {
            var port = input.Ports.First(p => p.Name == vf.Port);
            var rule = new IrqRule(port.Name, vf.Vf, Targets(port, vf.HostCell));
            rules.Add(rule);
            // The IRQs the inventory lists belong to the VF's host driver. A VF passed through
            // (hostdev) is rebound to vfio-pci, those IRQs go away and their numbers may be reused by
            // other devices: its IRQs are known only after the guest enables MSI-X. macvtap keeps the
            // host driver, so its IRQs are the listed ones.
            if (port.Kind.NeedsNetDev)
            {
                var irqs = input.Host.Devices.SelectMany(d => d.Vfs).FirstOrDefault(v => v.Address == vf.Vf)?.MsiIrqs ?? [];
                known.AddRange(IrqAffinityPlan.Assign(rule, irqs));
            }
        }
        var vhost = new List<VhostPin>();
        // vhost-net serves the virtio ports on taps (OVS and macvtap), one worker per queue pair, where libvirt opens it:
        // a KVM domain on a host with /dev/vhost-net (libvirt opens none for a TCG domain). Without it QEMU's own threads
        // serve the queues (the emulator pin).
        var vhostNet = input.Host.Virt.VhostNet && input.Host.Virt.DomainType == Isola.Domain.Topology.HostVirtualization.Kvm;
        foreach (var port in input.Ports.Where(p => p.Kind.ServedByVhostNet && vhostNet))
        {
            var targets = Targets(port, cells[0].HostCell);
            var queues = port.Queues ?? Math.Clamp(input.Flavor.Vcpus, 1, 8);
            for (var q = 0; q < queues && !targets.IsEmpty; q++)
                vhost.Add(new VhostPin(port.Name, q, targets[q % targets.Count]));
        }
        return new IrqAffinityPlan(rules, known, vhost);
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
