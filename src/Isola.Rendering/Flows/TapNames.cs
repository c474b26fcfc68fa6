namespace Isola.Rendering.Flows;

/// <summary>The tap device of a virtio port: <c>tap</c> + the first 11 characters of its id (15 in all, the kernel's limit), as Neutron names them.</summary>
public static class TapNames
{
    public static string Of(string portId) => "tap" + portId[..Math.Min(11, portId.Length)];
}
