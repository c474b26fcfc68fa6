using Isola.Domain.Pci;

namespace Isola.Domain.Serialization;

/// <summary>The PCI devices' rules of <see cref="InventoryRules"/>.</summary>
public static partial class InventoryRules
{
    private static readonly string[] VlanProtocols = ["802.1Q", "802.1ad"];

    private static void Devices(IReadOnlyList<PhysicalFunction>? devices, CellIndex cells, List<InventoryError> errors)
    {
        if (!Items(devices, "host.devices", errors))
            return;
        // Every PCI function once, PF or VF: where it was first seen.
        var seen = new Dictionary<PciAddress, string>();
        void Address(PciAddress address, string at)
        {
            if (!seen.TryAdd(address, at))
                errors.Add(new($"{at}.address", $"{address} is also {seen[address]}: a PCI function is listed once"));
        }
        // The PFs first: a VF at a PF's address is the one at fault.
        for (var i = 0; i < devices!.Count; i++)
        {
            if (devices[i] is { } pf)
                Address(pf.Address, $"host.devices[{i}]");
        }
        for (var i = 0; i < devices.Count; i++)
        {
            if (devices[i] is not { } pf)
                continue;
            var at = $"host.devices[{i}]";
            // -1 is how sysfs says unknown; the document says null (the reader turns -1 into null).
            if (pf.NumaNode is { } node and not -1 && !cells.Cells.ContainsKey(node))
                errors.Add(new($"{at}.numaNode", $"{node} is not one of the host's cells ({cells.Ids}); null or -1: unknown"));
            NotNegative(pf.ClassCode, $"{at}.classCode", errors);
            NotNegative(pf.LinkSpeedMbps ?? 0, $"{at}.linkSpeedMbps", errors);
            NotNegative(pf.IommuGroup ?? 0, $"{at}.iommuGroup", errors);
            NotNegative(pf.TotalVfs, $"{at}.totalVfs", errors);
            if (pf.NumVfs < 0 || pf.NumVfs > Math.Max(pf.TotalVfs, 0))
                errors.Add(new($"{at}.numVfs", $"{pf.NumVfs} is not within 0-totalVfs ({pf.TotalVfs})"));
            // A physnet is given by the PF's netdev (physicalDeviceMappings) and its VFs are set through it
            // (ip link set dev PF vf N): a PF without one (no driver, or bound to vfio-pci) is on no physnet.
            if (pf.Physnet is not null && pf.NetDev is null)
                errors.Add(new($"{at}.netDev", $"null, but the PF is on physnet {pf.Physnet}: a PF on a physnet is mapped and its VFs are set through its netdev"));
            if (!Items(pf.Vfs, $"{at}.vfs", errors))
                continue;
            var indexes = new Dictionary<int, int>();
            for (var v = 0; v < pf.Vfs.Count; v++)
            {
                if (pf.Vfs[v] is not { } vf)
                    continue;
                var vat = $"{at}.vfs[{v}]";
                Address(vf.Address, vat);
                if (vf.Address.Domain != pf.Address.Domain)
                    errors.Add(new($"{vat}.address", $"{vf.Address} is not in its PF's PCI domain ({pf.Address.Domain:x4}): a VF sits beside its PF"));
                if (vf.Index < 0)
                    errors.Add(new($"{vat}.index", $"{vf.Index} is negative"));
                else if (!indexes.TryAdd(vf.Index, v))
                    errors.Add(new($"{vat}.index", $"VF {vf.Index} is listed twice (also {at}.vfs[{indexes[vf.Index]}])"));
                NotNegative(vf.IommuGroup ?? 0, $"{vat}.iommuGroup", errors);
                if (Items(vf.MsiIrqs, $"{vat}.msiIrqs", errors))
                {
                    for (var q = 0; q < vf.MsiIrqs.Count; q++)
                        NotNegative(vf.MsiIrqs[q], $"{vat}.msiIrqs[{q}]", errors);
                }
                if (vf.State is { } state)
                    VfState(state, $"{vat}.state", errors);
            }
        }
    }

    private static void VfState(VfState state, string at, List<InventoryError> errors)
    {
        if (state.Mac is null)
            errors.Add(new($"{at}.mac", Required));
        Range(state.Vlan, 0, 4095, $"{at}.vlan", errors);
        Range(state.Qos, 0, 7, $"{at}.qos", errors);
        if (!VlanProtocols.Contains(state.VlanProtocol))
            errors.Add(new($"{at}.vlanProtocol", "must be 802.1Q or 802.1ad"));
        NotNegative(state.MaxTxRateMbps, $"{at}.maxTxRateMbps", errors);
        NotNegative(state.MinTxRateMbps, $"{at}.minTxRateMbps", errors);
    }
}
