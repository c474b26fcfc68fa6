using System.Globalization;
using System.Text.RegularExpressions;

namespace Isola.Rendering.Isolation;

/// <summary>What one MSI-X vector of a NIC serves: a queue (its rx, its tx or both) or the misc vector (mailbox, link, async events).</summary>
/// <param name="Queue">The queue's number; -1 for the misc vector.</param>
public sealed record VectorRole(int Queue)
{
    public static VectorRole Misc { get; } = new(-1);

    public bool IsMisc => Queue < 0;

    public override string ToString() => IsMisc ? "misc" : string.Create(CultureInfo.InvariantCulture, $"queue {Queue}");
}

/// <summary>Where a driver puts its misc vector in its MSI-X table.</summary>
public enum MiscEntry
{
    /// <summary>Entry 0, the queues after it (igb, i40e, ice, iavf, virtio-net's config vector).</summary>
    First,

    /// <summary>After the queues' entries (igbvf, ixgbevf, ixgbe, mlx5_core on kernels 5.16 to 6.3).</summary>
    Last,

    /// <summary>Not known: every vector is taken for a queue.</summary>
    None,
}

/// <summary>
/// The MSI-X layout of a NIC driver: which entry of the device's MSI-X table is the misc vector,
/// which queue each other entry serves, and how the driver names its vectors (the last column of
/// <c>/proc/interrupts</c>). The facts and their sources are in docs/host-plan.md ("Interrupts, both ends").
/// The same layout holds on the host, where the host driver requests the vectors, and in the guest,
/// where the guest's driver programs the entries of a device passed through and the host sees them
/// as vfio-pci's <c>vfio-msix[ENTRY](ADDRESS)</c>.
/// </summary>
/// <param name="Driver">The kernel driver's name (the VF driver for a VF, the PF driver for a whole PF).</param>
/// <param name="Misc">Where its misc vector is.</param>
/// <param name="VectorsPerQueue">2 when rx and tx of a queue have a vector each (igbvf: entry 0 tx, entry 1 rx), else 1 (TxRx).</param>
public sealed partial record VectorLayout(string Driver, MiscEntry Misc, int VectorsPerQueue = 1)
{
    /// <summary>The layouts Isola knows, by driver.</summary>
    public static IReadOnlyDictionary<string, VectorLayout> Known { get; } = new[]
    {
        new VectorLayout("igbvf", MiscEntry.Last, VectorsPerQueue: 2),
        new VectorLayout("ixgbevf", MiscEntry.Last),
        new VectorLayout("iavf", MiscEntry.First),
        // 5.16-6.3 (Debian 12's 6.1): completion vectors first, the async one last; 6.4 moved it back to entry 0.
        new VectorLayout("mlx5_core", MiscEntry.Last),
        new VectorLayout("igb", MiscEntry.First),
        new VectorLayout("ixgbe", MiscEntry.Last),
        new VectorLayout("i40e", MiscEntry.First),
        new VectorLayout("ice", MiscEntry.First),
        new VectorLayout("virtio-pci", MiscEntry.First, VectorsPerQueue: 2),
    }.ToDictionary(l => l.Driver, StringComparer.Ordinal);

    /// <summary>The layout of a driver; an unknown one takes every vector for a queue, in entry order.</summary>
    public static VectorLayout Of(string? driver) =>
        driver is not null && Known.TryGetValue(driver, out var layout) ? layout : new VectorLayout(driver ?? "unknown", MiscEntry.None);

    /// <summary>The driver a VF of a PF bound to <paramref name="pfDriver"/> runs under, on the host or in a guest.</summary>
    public static string? VfDriverOf(string? pfDriver) => pfDriver switch
    {
        "igb" => "igbvf",
        "ixgbe" => "ixgbevf",
        "i40e" or "ice" => "iavf",
        "mlx5_core" => "mlx5_core",
        _ => null,
    };

    /// <summary>What entry <paramref name="entry"/> of a table whose highest used entry is <paramref name="lastEntry"/> serves.</summary>
    public VectorRole OfEntry(int entry, int lastEntry) => Misc switch
    {
        MiscEntry.First when entry == 0 => VectorRole.Misc,
        MiscEntry.First => new VectorRole((entry - 1) / VectorsPerQueue),
        MiscEntry.Last when entry == lastEntry && lastEntry > 0 => VectorRole.Misc,
        _ => new VectorRole(entry / VectorsPerQueue),
    };

    /// <summary>
    /// What a vector serves, from the name its driver gave it: vfio-pci's <c>vfio-msix[N](ADDRESS)</c>
    /// (entry N, read through this layout: the guest's driver programmed it); a queue's
    /// <c>-TxRx-N</c>, <c>-rx-N</c>, <c>-tx-N</c>, <c>mlx5_compN</c>, virtio's <c>input.N</c>/<c>output.N</c>;
    /// the misc vector's netdev name alone (igb, igbvf, ixgbe, ixgbevf), <c>iavf-BDF:mbx</c>, <c>i40e-BDF:misc</c>
    /// and <c>:fdir</c>, <c>ice-BDF:misc</c>, <c>mlx5_async</c>, virtio's <c>-config</c>, <c>-control</c> and the
    /// shared <c>-virtqueues</c>. Null: a name none of these is (igb's <c>-unused</c>, mlx5's <c>mlx5_combined0</c>).
    /// </summary>
    /// <param name="lastEntry">The highest vfio-pci entry the device has now (for a misc vector after the queues).</param>
    public VectorRole? OfName(string name, string? netdev, int lastEntry)
    {
        if (VfioEntry().Match(name) is { Success: true } vfio)
            return OfEntry(int.Parse(vfio.Groups[1].Value, CultureInfo.InvariantCulture), lastEntry);
        // Misc first: i40e's flow director vector (i40e-BDF:fdir-TxRx-0) has a queue's suffix but no queue of the netdev's.
        if ((netdev is not null && name == netdev) || MiscName().IsMatch(name))
            return VectorRole.Misc;
        if (QueueName().Match(name) is { Success: true } queue)
            return new VectorRole(int.Parse(queue.Groups[2].Value, CultureInfo.InvariantCulture));
        return null;
    }

    /// <summary>The entry of a vfio-pci vector's name; null for any other name.</summary>
    public static int? VfioEntryOf(string name) =>
        VfioEntry().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"^vfio-msix\[(\d+)\]\(")]
    private static partial Regex VfioEntry();

    [GeneratedRegex(@"(-TxRx-|-rx-|-tx-|mlx5_comp|input\.|output\.)(\d+)")]
    private static partial Regex QueueName();

    [GeneratedRegex(@"(-config|-control|-virtqueues)$|^mlx5_async|^(iavf|i40e|ice)-[0-9a-f]{4}:[0-9a-f]{2}:")]
    private static partial Regex MiscName();
}
