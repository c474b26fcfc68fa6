using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt.Nics;

/// <summary>The renderer of each vnic kind: the one registration a new kind adds.</summary>
internal static class NicRenderers
{
    private static readonly INicRenderer[] All = [new NormalNic(), new DirectNic(), new DirectPhysicalNic(), new MacvtapNic(), new VdpaNic()];

    private static readonly Dictionary<VnicType, INicRenderer> ByKind = All.ToDictionary(r => r.Kind);

    /// <summary>The renderer of <paramref name="kind"/>; null when none is registered (a test keeps that from happening).</summary>
    public static INicRenderer? For(VnicType kind) => ByKind.GetValueOrDefault(kind);
}
