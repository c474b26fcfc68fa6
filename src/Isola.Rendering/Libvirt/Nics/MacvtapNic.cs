using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>
/// A macvtap port: virtio on a macvtap (passthrough mode) over its VF's host netdev, one queue pair per
/// vCPU (at most 8) as for a normal port. libvirt opens one macvtap fd and, on KVM with vhost-net, one
/// vhost-net device per queue pair (it would open one vhost-net device even without a driver element):
/// the driver says both, so the plan can pin exactly the workers QEMU will have.
/// </summary>
internal sealed class MacvtapNic : INicRenderer
{
    public VnicType Kind => VnicType.Macvtap;

    public XElement? Render(NicContext nic)
    {
        var vf = nic.Vf(0);
        if (vf is null)
            return null;
        var netDev = nic.Input.Host.Devices.SelectMany(d => d.Vfs).FirstOrDefault(v => v.Address == vf.Vf)?.NetDev;
        if (netDev is null)
            return nic.Fail(nic.Field, $"macvtap needs the host netdev of VF {vf.Vf}, which has none (no host driver bound)");
        return new XElement("interface", new XAttribute("type", "direct"), nic.Mac,
            new XElement("source", new XAttribute("dev", netDev), new XAttribute("mode", "passthrough")),
            new XElement("model", new XAttribute("type", "virtio")),
            new XElement("driver", new XAttribute("name", nic.Input.Host.Virt.VhostNet ? "vhost" : "qemu"),
                new XAttribute("queues", nic.Port.Queues ?? Math.Clamp(nic.Input.Flavor.Vcpus, 1, 8))),
            nic.GuestAddress);
    }
}
