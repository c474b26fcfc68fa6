using Isola.Agent.Reconcile;

namespace Isola.Agent.Facets;

/// <summary>The facets of a host, in the order the agent reads, plans and applies them.</summary>
public static class HostFacets
{
    /// <summary>
    /// The order is the order of effects. For a server on its way in: its files (image cached, root disk,
    /// config drive), domain defined and started paused,
    /// then its VFs (libvirt sets a hostdev VF's MAC and VLAN as it starts the domain), IRQs and vhost
    /// workers (they exist once QEMU runs), and last the resume. For the host: irqbalance, then systemd.
    /// For a server on its way out: domain destroyed and undefined, VFs reset, IRQs restored, its XML
    /// removed, and after every take-down its files (the storage facet's sweep). Reading goes the same way: a facet may read what an earlier one read (the vhost facet
    /// looks for QEMU only in started domains).
    /// </summary>
    public static IReadOnlyList<IHostFacet> All { get; } =
    [
        new StorageFacet(),
        new DomainFacet(),
        new VfFacet(),
        new IrqFacet(),
        new VhostFacet(),
        new PowerFacet(),
        new IrqbalanceFacet(),
        new CpuIsolationFacet(),
        new DomainXmlFacet(),
    ];

    /// <summary>A step handed to a facet that did not plan it: a bug in the loop.</summary>
    internal static InvalidOperationException NotMine(IHostFacet facet, Step step) => new($"{facet.GetType().Name} does not apply {step}");
}
