using System.Xml.Linq;
using Isola.Domain.Pci;

namespace Isola.Rendering.Libvirt;

/// <summary>The PCI <c>&lt;address&gt;</c> elements of a domain's devices.</summary>
internal static class LibvirtAddress
{
    /// <summary>A host PCI address; <c>&lt;hostdev&gt;</c>'s source takes it without the type attribute.</summary>
    public static XElement Host(PciAddress a, bool typed = true) => new("address", typed ? new XAttribute("type", "pci") : null,
        new XAttribute("domain", $"0x{a.Domain:x4}"), new XAttribute("bus", $"0x{a.Bus:x2}"), new XAttribute("slot", $"0x{a.Device:x2}"), new XAttribute("function", $"0x{a.Function:x1}"));

    /// <summary>Slot 0 behind pcie-root-port <paramref name="bus"/>.</summary>
    public static XElement Guest(int bus) => new("address", new XAttribute("type", "pci"),
        new XAttribute("domain", "0x0000"), new XAttribute("bus", $"0x{bus:x2}"), new XAttribute("slot", "0x00"), new XAttribute("function", "0x0"));
}
