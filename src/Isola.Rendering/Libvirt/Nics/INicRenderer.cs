using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>The libvirt device of one vnic kind (<see cref="VnicKind"/>): one implementation per kind, listed in <see cref="NicRenderers"/>.</summary>
internal interface INicRenderer
{
    VnicType Kind { get; }

    /// <summary>The device of one guest NIC; null when it cannot be rendered (the reason is in <see cref="NicContext.Errors"/>).</summary>
    XElement? Render(NicContext nic);
}
