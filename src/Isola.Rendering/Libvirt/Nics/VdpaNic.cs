using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>A vdpa port: its /dev/vhost-vdpa-N device (which the port names; placement has none to give yet).</summary>
internal sealed class VdpaNic : INicRenderer
{
    public VnicType Kind => VnicType.Vdpa;

    public XElement? Render(NicContext nic) => nic.Port.VdpaDevice is null
        ? nic.Fail($"{nic.Field}.vdpaDevice", "a vdpa port needs its /dev/vhost-vdpa-N device")
        : new XElement("interface", new XAttribute("type", "vdpa"), nic.Mac,
            new XElement("source", new XAttribute("dev", nic.Port.VdpaDevice)), nic.GuestAddress);
}
