using Isola.Domain.Pci;

namespace Isola.Scheduling.State;

/// <summary>
/// The assignable VFs of one PF: one pool per (PF, physnet, NUMA cell, vendor:product). VFs are
/// handed out lowest index first. A pool whose PF went whole to a direct-physical port has none.
/// </summary>
public sealed class VfPool
{
    private readonly bool[] _used;

    public VfPool(int id, PhysicalFunction pf, string physnet, int socket, IReadOnlyList<VirtualFunction> vfs)
    {
        Id = id;
        Pf = pf;
        Physnet = physnet;
        Socket = socket;
        Vfs = vfs;
        _used = new bool[vfs.Count];
        Free = vfs.Count;
        FreeWithNetDev = vfs.Count(v => v.NetDev is not null);
        Driver = VfDriverCapabilities.For(pf.Driver);
    }

    public int Id { get; }

    public PhysicalFunction Pf { get; }

    public string Physnet { get; }

    /// <summary>What the PF driver lets its VFs do: the table the host plan checks too.</summary>
    public VfDriverCapabilities Driver { get; }

    /// <summary>Whether its VFs can meet <paramref name="needs"/>.</summary>
    public bool Serves(VfNeeds needs) => Driver.Can(needs);

    /// <summary>The PF's NUMA cell; null when the kernel does not know it.</summary>
    public int? Cell => Pf.NumaNode;

    /// <summary>The socket of the PF's cell; -1 when unknown.</summary>
    public int Socket { get; }

    public IReadOnlyList<VirtualFunction> Vfs { get; }

    public int Free { get; private set; }

    /// <summary>Free VFs with a host netdev: what macvtap ports need.</summary>
    public int FreeWithNetDev { get; private set; }

    /// <summary>The PF itself went to a direct-physical port.</summary>
    public bool PfTaken { get; private set; }

    public bool WhollyFree => !PfTaken && Free == Vfs.Count;

    public int Available(bool needNetDev) => PfTaken ? 0 : needNetDev ? FreeWithNetDev : Free;

    public bool IsFree(int slot) => !PfTaken && !_used[slot];

    public int SlotOf(PciAddress vf)
    {
        for (var i = 0; i < Vfs.Count; i++)
        {
            if (Vfs[i].Address == vf)
                return i;
        }
        return -1;
    }

    public void Take(int slot) => Set(slot, true);

    public void Release(int slot) => Set(slot, false);

    public void TakePf()
    {
        if (!WhollyFree)
            throw new InvalidOperationException($"PF {Pf.Address} is not wholly free");
        PfTaken = true;
    }

    public void ReleasePf()
    {
        if (!PfTaken)
            throw new InvalidOperationException($"PF {Pf.Address} was not taken");
        PfTaken = false;
    }

    private void Set(int slot, bool used)
    {
        if (_used[slot] == used)
            throw new InvalidOperationException($"VF {Vfs[slot].Address} is already {(used ? "taken" : "free")}");
        _used[slot] = used;
        var delta = used ? -1 : 1;
        Free += delta;
        if (Vfs[slot].NetDev is not null)
            FreeWithNetDev += delta;
    }

    public string Fingerprint() => $"{(PfTaken ? "P" : "")}{string.Concat(_used.Select(u => u ? '1' : '0'))}";
}
