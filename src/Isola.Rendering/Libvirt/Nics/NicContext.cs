using System.Xml.Linq;
using Isola.Rendering.Guest;
using Isola.Scheduling;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>What a NIC renderer reads: the server's input, the guest NIC, the flavor's vif bandwidth, where its errors go.</summary>
/// <param name="Field">The port's field in errors: <c>ports[i]</c>.</param>
internal sealed record NicContext(RenderInput Input, GuestNic Nic, XElement? Bandwidth, string Field, List<RequestError> Errors)
{
    public PortSpec Port => Nic.Port;

    public XElement Mac => new("mac", new XAttribute("address", Port.Mac));

    public XElement GuestAddress => LibvirtAddress.Guest(Nic.Bus);

    /// <summary>The <paramref name="member"/>th VF the placement gives the port.</summary>
    public VfAssignment? Vf(int member)
    {
        var vfs = Input.Placement.Vfs.Where(v => v.Port == Port.Name).ToList();
        if (vfs.Count > member)
            return vfs[member];
        Errors.Add(new RequestError(Field, $"the placement gives port {Port.Name} {vfs.Count} VF(s); it needs {member + 1}"));
        return null;
    }

    /// <summary>Records why the NIC cannot be rendered; renders nothing.</summary>
    public XElement? Fail(string field, string message)
    {
        Errors.Add(new RequestError(field, message));
        return null;
    }
}
