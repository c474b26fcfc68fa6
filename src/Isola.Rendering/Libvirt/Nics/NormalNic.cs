using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>
/// A normal (virtio) port: a tap on the host's Open vSwitch bridge, one queue pair per vCPU (at most 8),
/// served by vhost-net where the host has it and by QEMU's own threads where it does not.
/// </summary>
internal sealed class NormalNic : INicRenderer
{
    public VnicType Kind => VnicType.Normal;

    public XElement? Render(NicContext nic)
    {
        var (input, port) = (nic.Input, nic.Port);
        var id = port.PortId ?? HostPlanner.NameUuid($"{input.Placement.Server}/{port.Name}");
        var queues = port.Queues ?? Math.Clamp(input.Flavor.Vcpus, 1, 8);
        return new XElement("interface", new XAttribute("type", "bridge"), nic.Mac,
            new XElement("source", new XAttribute("bridge", port.Bridge)),
            new XElement("virtualport", new XAttribute("type", "openvswitch"), new XElement("parameters", new XAttribute("interfaceid", id))),
            new XElement("target", new XAttribute("dev", Flows.TapNames.Of(id))),
            new XElement("model", new XAttribute("type", "virtio")),
            new XElement("driver", new XAttribute("name", input.Host.Virt.VhostNet ? "vhost" : "qemu"), new XAttribute("queues", queues)),
            port.Mtu != 1500 ? new XElement("mtu", new XAttribute("size", port.Mtu)) : null,
            nic.Bandwidth is null ? null : new XElement(nic.Bandwidth),
            nic.GuestAddress);
    }
}
