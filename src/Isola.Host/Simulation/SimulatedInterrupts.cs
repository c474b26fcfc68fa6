using System.Globalization;
using System.Text;
using Isola.Domain.Pci;

namespace Isola.Host.Simulation;

/// <summary>
/// The MSI-X vectors of a simulated host's VFs as the kernel shows them (<c>sys/bus/pci/devices/BDF/msi_irqs/</c>,
/// <c>proc/irq/N/smp_affinity_list</c>, a line each in <c>proc/interrupts</c>), following a VF's life under
/// libvirt: when a domain that has it as a hostdev starts, libvirt rebinds it to vfio-pci and its host
/// driver's vectors go; once the guest runs (its driver enables MSI-X) vfio-pci requests one vector per
/// entry, <c>vfio-msix[ENTRY](BDF)</c>, under IRQ numbers never used before; when the domain stops they
/// go and the host driver's come back under new numbers, as a reprobe gives them. The files are the truth.
/// </summary>
public sealed class SimulatedInterrupts(string root)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<PciAddress, List<(int Irq, string Name)>> _host = [];

    /// <summary>The domain started with <paramref name="vf"/> as a hostdev: vfio-pci holds it, its host driver's vectors are gone.</summary>
    public void Passthrough(PciAddress vf)
    {
        lock (_lock)
        {
            var vectors = Vectors(vf);
            if (vectors.Count == 0 || vectors.Any(v => v.Name.StartsWith("vfio-", StringComparison.Ordinal)))
                return;
            _host[vf] = vectors;
            Remove(vf, vectors);
        }
    }

    /// <summary>The guest's driver enabled MSI-X on the VF: vfio-pci's vectors appear, as many as the host driver had.</summary>
    public void EnableMsix(PciAddress vf)
    {
        lock (_lock)
        {
            if (!_host.TryGetValue(vf, out var host) || Vectors(vf).Count > 0)
                return;
            var next = Next();
            Add(vf, host.Select((_, e) => (next + e, string.Create(CultureInfo.InvariantCulture, $"vfio-msix[{e}]({vf})"))).ToList());
        }
    }

    /// <summary>The domain stopped: vfio-pci's vectors go, the host driver takes the VF back with new numbers.</summary>
    public void Release(PciAddress vf)
    {
        lock (_lock)
        {
            if (!_host.Remove(vf, out var host))
                return;
            Remove(vf, Vectors(vf));
            var next = Next();
            Add(vf, host.Select((h, i) => (next + i, h.Name)).ToList());
        }
    }

    /// <summary>An IRQ number above every one the host has or had an entry for: new vectors never reuse one.</summary>
    private int Next()
    {
        var dir = Path.Join(root, "proc", "irq");
        var used = Lines().Select(Parse).OfType<(int Irq, string Name)>().Select(v => v.Irq)
            .Concat(Directory.Exists(dir) ? Directory.GetDirectories(dir).Select(d => int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out var n) ? n : 0) : []);
        return Math.Max(1000, used.DefaultIfEmpty(0).Max() + 1);
    }

    /// <summary>The VF's vectors now, with their names.</summary>
    private List<(int Irq, string Name)> Vectors(PciAddress vf)
    {
        var names = Lines().Select(Parse).OfType<(int Irq, string Name)>().ToDictionary(l => l.Irq, l => l.Name);
        var dir = MsiDir(vf);
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir).Select(Path.GetFileName).Select(n => int.Parse(n!, CultureInfo.InvariantCulture)).Order()
                .Select(irq => (irq, names.GetValueOrDefault(irq) ?? "")).ToList()
            : [];
    }

    private void Remove(PciAddress vf, List<(int Irq, string Name)> vectors)
    {
        var gone = vectors.Select(v => v.Irq).ToHashSet();
        foreach (var irq in gone)
        {
            File.Delete(Path.Join(MsiDir(vf), irq.ToString(CultureInfo.InvariantCulture)));
            var dir = Path.Join(root, "proc", "irq", irq.ToString(CultureInfo.InvariantCulture));
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        Write(Lines().Where(l => Parse(l) is not { } v || !gone.Contains(v.Irq)));
    }

    private void Add(PciAddress vf, List<(int Irq, string Name)> vectors)
    {
        var lines = Lines();
        var cpus = Math.Max(1, lines.FirstOrDefault()?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length ?? 1);
        var all = string.Create(CultureInfo.InvariantCulture, $"0-{cpus - 1}");
        Directory.CreateDirectory(MsiDir(vf));
        for (var e = 0; e < vectors.Count; e++)
        {
            var (irq, name) = vectors[e];
            File.WriteAllText(Path.Join(MsiDir(vf), irq.ToString(CultureInfo.InvariantCulture)), "msix\n");
            var dir = Path.Join(root, "proc", "irq", irq.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Join(dir, "smp_affinity_list"), all + "\n");
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{irq,4}:"));
            for (var c = 0; c < cpus; c++)
                line.Append(CultureInfo.InvariantCulture, $"{0,11}");
            lines.Add(line.Append(CultureInfo.InvariantCulture, $"  IR-PCI-MSIX-{vf} {e}-edge      {name}").ToString());
        }
        Write(lines);
    }

    private string MsiDir(PciAddress vf) => Path.Join(root, "sys", "bus", "pci", "devices", vf.ToString(), "msi_irqs");

    private string InterruptsFile => Path.Join(root, "proc", "interrupts");

    private List<string> Lines() => File.Exists(InterruptsFile) ? File.ReadAllLines(InterruptsFile).ToList() : ["    CPU0"];

    private void Write(IEnumerable<string> lines)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(InterruptsFile)!);
        File.WriteAllText(InterruptsFile, string.Concat(lines.Select(l => l + "\n")));
    }

    private static (int Irq, string Name)? Parse(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !int.TryParse(line.AsSpan(0, colon).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var irq))
            return null;
        var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (irq, fields.Length > 0 ? fields[^1] : "");
    }
}
