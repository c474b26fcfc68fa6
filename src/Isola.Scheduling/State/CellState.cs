namespace Isola.Scheduling.State;

/// <summary>One host NUMA cell's free resources: pinnable pCPUs, small-page memory, hugepages.</summary>
public sealed class CellState(int id, int socket, CellCpus cpus, long smallFreeMiB, long[] pageSizesKiB, int[] freePages)
{
    public int Id { get; } = id;

    public int Socket { get; } = socket;

    public CellCpus Cpus { get; } = cpus;

    public long SmallFreeMiB { get; private set; } = smallFreeMiB;

    /// <summary>Hugepage sizes this cell has, ascending.</summary>
    public long[] PageSizesKiB { get; } = pageSizesKiB;

    private readonly int[] _freePages = freePages;

    public int FreePages(long sizeKiB)
    {
        var i = Array.IndexOf(PageSizesKiB, sizeKiB);
        return i < 0 ? 0 : _freePages[i];
    }

    public void TakeMemory(long pageSizeKiB, long mib) => Adjust(pageSizeKiB, mib, -1);

    public void ReleaseMemory(long pageSizeKiB, long mib) => Adjust(pageSizeKiB, mib, +1);

    private void Adjust(long pageSizeKiB, long mib, int sign)
    {
        if (pageSizeKiB <= Requests.MemPageSize.SmallKiB)
        {
            if (sign < 0 && SmallFreeMiB < mib)
                throw new InvalidOperationException($"cell {Id} has {SmallFreeMiB} MiB of small pages free, not {mib}");
            SmallFreeMiB += sign * mib;
            return;
        }
        var i = Array.IndexOf(PageSizesKiB, pageSizeKiB);
        var pages = (int)(mib * 1024 / pageSizeKiB);
        if (i < 0 || (sign < 0 && _freePages[i] < pages))
            throw new InvalidOperationException($"cell {Id} has not {pages} free {pageSizeKiB} KiB pages");
        _freePages[i] += sign * pages;
    }

    public string Fingerprint() => $"{Cpus.Fingerprint()}|{SmallFreeMiB}|{string.Join(',', _freePages)}";
}
