using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>A direct-physical port: the whole PF the placement gives it, as a PCI hostdev.</summary>
internal sealed class DirectPhysicalNic : INicRenderer
{
    public VnicType Kind => VnicType.DirectPhysical;

    public XElement? Render(NicContext nic)
    {
        var pf = nic.Input.Placement.Pfs.FirstOrDefault(p => p.Port == nic.Port.Name);
        if (pf is null)
            return nic.Fail(nic.Field, $"the placement gives port {nic.Port.Name} no PF");
        return new XElement("hostdev", new XAttribute("mode", "subsystem"), new XAttribute("type", "pci"), new XAttribute("managed", "yes"),
            new XElement("source", LibvirtAddress.Host(pf.Pf, typed: false)), nic.GuestAddress);
    }
}
