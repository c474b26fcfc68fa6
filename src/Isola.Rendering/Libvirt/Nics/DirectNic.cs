using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>A direct port: its VF (this leg's, for an HA bond) passed through with vfio, VLAN tagged by the VF.</summary>
internal sealed class DirectNic : INicRenderer
{
    public VnicType Kind => VnicType.Direct;

    public XElement? Render(NicContext nic)
    {
        var vf = nic.Vf(nic.Nic.Member);
        return vf is null ? null : new XElement("interface", new XAttribute("type", "hostdev"), new XAttribute("managed", "yes"), nic.Mac,
            new XElement("driver", new XAttribute("name", "vfio")),
            new XElement("source", LibvirtAddress.Host(vf.Vf)),
            nic.Port.Vlan is { } vlan and > 0 ? new XElement("vlan", new XElement("tag", new XAttribute("id", vlan))) : null,
            nic.GuestAddress);
    }
}
