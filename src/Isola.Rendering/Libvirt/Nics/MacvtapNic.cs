using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>A macvtap port: virtio on a macvtap (passthrough mode) over its VF's host netdev.</summary>
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
            new XElement("model", new XAttribute("type", "virtio")), nic.GuestAddress);
    }
}
