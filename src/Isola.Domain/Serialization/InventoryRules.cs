using System.Text.RegularExpressions;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Domain.Topology;

namespace Isola.Domain.Serialization;

/// <summary>
/// What an inventory must hold before anything places on it, as a pure function from the document
/// to every rule it breaks (empty: it is good). The server checks each registration with it, the
/// store each row it loads; an agent or a tool may check its own discovery. Paths are the document's
/// JSON paths (<c>host.cpus[3].cell</c>). It never throws: a null where a record says there is none
/// is one more error. The rules are listed in docs/formats.md.
/// </summary>
public static partial class InventoryRules
{
    private const string Required = "required";
    private const string NotNull = "must not be null";

    public static IReadOnlyList<InventoryError> Check(InventoryDocument document)
    {
        var errors = new List<InventoryError>();
        if (document.SchemaVersion != InventoryDocument.CurrentSchemaVersion)
            errors.Add(new("schemaVersion", $"{document.SchemaVersion} is not supported (this isola reads {InventoryDocument.CurrentSchemaVersion})"));
        if (document.Host is not { } host)
        {
            errors.Add(new("host", Required));
            return errors;
        }
        if (host.Hostname is null)
            errors.Add(new("host.hostname", Required));
        else if (!HostnameRule().IsMatch(host.Hostname))
            errors.Add(new("host.hostname", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"));
        var cells = Cells(host.Cells, errors);
        Cpus(host.Cpus, cells, errors);
        Kernel(host.Kernel, errors);
        Devices(host.Devices, cells, errors);
        Warnings(host.Warnings, errors);
        Virtualization(host.Virtualization, errors);
        return errors;
    }

    private static void Virtualization(HostVirtualization? virt, List<InventoryError> errors)
    {
        if (virt is null)
            return;
        if (!HostVirtualization.IsDomainType(virt.DomainType))
            errors.Add(new("host.virtualization.domainType", $"'{virt.DomainType}' is not a domain type libvirt's QEMU driver runs (kvm or qemu)"));
        foreach (var (field, path) in new[] { ("instancesDirectory", virt.InstancesDirectory), ("emulator", virt.Emulator) })
        {
            if (path is null || !path.StartsWith('/') || path.Any(char.IsControl) || path.Split('/').Contains(".."))
                errors.Add(new($"host.virtualization.{field}", "must be an absolute path without '..' or control characters"));
        }
    }

    /// <summary>A hugepage size the kernel could have: a power of two above the 4 KiB base page (64 KiB, 2 MiB, 1 GiB...).</summary>
    public static bool IsPageSize(long kib) => kib > 4 && (kib & (kib - 1)) == 0;

    /// <summary>The cells by id (their index and cpulist), and the first cell whose cpulist names each CPU.</summary>
    private sealed record CellIndex(IReadOnlyDictionary<int, (int Index, CpuSet Cpus)> Cells, IReadOnlyDictionary<int, int> ListedBy)
    {
        public string Ids => string.Join(", ", Cells.Keys.Order());
    }

    private static CellIndex Cells(IReadOnlyList<NumaCell>? cells, List<InventoryError> errors)
    {
        var byId = new Dictionary<int, (int Index, CpuSet Cpus)>();
        var listedBy = new Dictionary<int, int>();
        if (!Items(cells, "host.cells", errors))
            return new CellIndex(byId, listedBy);
        if (cells!.Count == 0)
            errors.Add(new("host.cells", "a host has at least one NUMA cell"));
        for (var i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not { } cell)
                continue;
            var at = $"host.cells[{i}]";
            if (cell.Id < 0)
                errors.Add(new($"{at}.id", "a cell id is 0 or more"));
            else if (byId.TryGetValue(cell.Id, out var first))
                errors.Add(new($"{at}.id", $"cell {cell.Id} is listed twice (also host.cells[{first.Index}])"));
            else
                byId[cell.Id] = (i, cell.Cpus ?? CpuSet.Empty);
            if (cell.Socket < -1)
                errors.Add(new($"{at}.socket", "a socket is 0 or more (-1: a cell without CPUs)"));
            if (cell.Cpus is null)
                errors.Add(new($"{at}.cpus", Required));
            else
            {
                foreach (var cpu in cell.Cpus)
                {
                    if (listedBy.TryGetValue(cpu, out var other))
                        errors.Add(new($"{at}.cpus", $"CPU {cpu} is also in host.cells[{other}].cpus: a CPU is on one cell"));
                    else
                        listedBy[cpu] = i;
                }
            }
            NotNegative(cell.MemTotalKiB, $"{at}.memTotalKiB", errors);
            NotNegative(cell.MemFreeKiB, $"{at}.memFreeKiB", errors);
            if (cell.MemFreeKiB > cell.MemTotalKiB && cell.MemTotalKiB >= 0)
                errors.Add(new($"{at}.memFreeKiB", $"{cell.MemFreeKiB} is more than memTotalKiB {cell.MemTotalKiB}"));
            Hugepages(cell.Hugepages, $"{at}.hugepages", errors);
            if (Items(cell.Distances, $"{at}.distances", errors))
            {
                for (var d = 0; d < cell.Distances.Count; d++)
                    NotNegative(cell.Distances[d], $"{at}.distances[{d}]", errors);
            }
        }
        return new CellIndex(byId, listedBy);
    }

    private static void Hugepages(IReadOnlyList<HugepagePool>? pools, string path, List<InventoryError> errors)
    {
        if (!Items(pools, path, errors))
            return;
        var sizes = new Dictionary<long, int>();
        for (var i = 0; i < pools!.Count; i++)
        {
            if (pools[i] is not { } pool)
                continue;
            var at = $"{path}[{i}]";
            if (!IsPageSize(pool.PageSizeKiB))
                errors.Add(new($"{at}.pageSizeKiB", $"{pool.PageSizeKiB} is not a page size: a power of two KiB above 4 (2048: 2 MiB, 1048576: 1 GiB)"));
            else if (!sizes.TryAdd(pool.PageSizeKiB, i))
                errors.Add(new($"{at}.pageSizeKiB", $"{pool.PageSizeKiB} KiB pages are listed twice (also {path}[{sizes[pool.PageSizeKiB]}])"));
            NotNegative(pool.Total, $"{at}.total", errors);
            NotNegative(pool.Free, $"{at}.free", errors);
            if (pool.Free > pool.Total && pool.Total >= 0)
                errors.Add(new($"{at}.free", $"{pool.Free} is more than total {pool.Total}"));
        }
    }

    private static void Cpus(IReadOnlyList<CpuInfo>? cpus, CellIndex cells, List<InventoryError> errors)
    {
        if (!Items(cpus, "host.cpus", errors))
            return;
        if (cpus!.Count == 0)
            errors.Add(new("host.cpus", "a host has at least one CPU"));
        var byId = new Dictionary<int, int>();
        for (var i = 0; i < cpus.Count; i++)
        {
            if (cpus[i] is not { } cpu)
                continue;
            if (cpu.Id < 0)
                errors.Add(new($"host.cpus[{i}].id", "a CPU id is 0 or more"));
            else if (!byId.TryAdd(cpu.Id, i))
                errors.Add(new($"host.cpus[{i}].id", $"CPU {cpu.Id} is listed twice (also host.cpus[{byId[cpu.Id]}])"));
        }
        for (var i = 0; i < cpus.Count; i++)
        {
            if (cpus[i] is not { } cpu)
                continue;
            var at = $"host.cpus[{i}]";
            NotNegative(cpu.Socket, $"{at}.socket", errors);
            NotNegative(cpu.Core, $"{at}.core", errors);
            if (!cells.Cells.TryGetValue(cpu.Cell, out var cell))
                errors.Add(new($"{at}.cell", $"cell {cpu.Cell} is not one of the host's cells ({cells.Ids})"));
            else if (!cell.Cpus.Contains(cpu.Id))
                errors.Add(new($"{at}.cell", $"host.cells[{cell.Index}].cpus does not list CPU {cpu.Id}"));
            if (cpu.Siblings is null)
                errors.Add(new($"{at}.siblings", Required));
            else if (!cpu.Siblings.Contains(cpu.Id))
                errors.Add(new($"{at}.siblings", $"the threads of a core include the CPU itself ({cpu.Id})"));
            else if (cpu.Siblings.FirstOrDefault(s => !byId.ContainsKey(s), -1) is var unknown and >= 0)
                errors.Add(new($"{at}.siblings", $"CPU {unknown} is not in host.cpus"));
        }
        foreach (var (id, (index, listed)) in cells.Cells)
        {
            // A CPU another cell lists first was said already ("also in").
            foreach (var cpu in listed.Where(c => cells.ListedBy[c] == index))
            {
                if (!byId.TryGetValue(cpu, out var k))
                    errors.Add(new($"host.cells[{index}].cpus", $"CPU {cpu} is not in host.cpus"));
                else if (cpus[k] is { } info && info.Cell != id && cells.Cells.ContainsKey(info.Cell))
                    errors.Add(new($"host.cells[{index}].cpus", $"CPU {cpu} is on cell {info.Cell} (host.cpus[{k}].cell)"));
            }
        }
    }

    private static void Kernel(KernelCommandLine? kernel, List<InventoryError> errors)
    {
        if (kernel is null)
        {
            errors.Add(new("host.kernel", Required));
            return;
        }
        if (kernel.Raw is null)
            errors.Add(new("host.kernel.raw", Required));
        foreach (var (set, name) in new[] { (kernel.IsolCpus, "isolCpus"), (kernel.NohzFull, "nohzFull"), (kernel.RcuNocbs, "rcuNocbs") })
        {
            if (set is null)
                errors.Add(new($"host.kernel.{name}", Required));
        }
        Items(kernel.IsolCpusFlags, "host.kernel.isolCpusFlags", errors);
        if (kernel.DefaultHugepageSizeKiB is { } size && !IsPageSize(size))
            errors.Add(new("host.kernel.defaultHugepageSizeKiB", $"{size} is not a page size: a power of two KiB above 4"));
        if (!Items(kernel.Hugepages, "host.kernel.hugepages", errors))
            return;
        for (var i = 0; i < kernel.Hugepages.Count; i++)
        {
            if (kernel.Hugepages[i] is not { } r)
                continue;
            if (!IsPageSize(r.PageSizeKiB))
                errors.Add(new($"host.kernel.hugepages[{i}].pageSizeKiB", $"{r.PageSizeKiB} is not a page size: a power of two KiB above 4"));
            NotNegative(r.Count, $"host.kernel.hugepages[{i}].count", errors);
        }
    }

    private static void Warnings(IReadOnlyList<DiscoveryWarning>? warnings, List<InventoryError> errors)
    {
        if (!Items(warnings, "host.warnings", errors))
            return;
        for (var i = 0; i < warnings!.Count; i++)
        {
            if (warnings[i] is not { } w)
                continue;
            foreach (var (text, name) in new[] { (w.Subject, "subject"), (w.Code, "code"), (w.Message, "message") })
            {
                if (text is null)
                    errors.Add(new($"host.warnings[{i}].{name}", Required));
            }
        }
    }

    /// <summary>A list that is there and holds no null; false (and said) when it is null.</summary>
    private static bool Items<T>(IReadOnlyList<T>? items, string path, List<InventoryError> errors)
    {
        if (items is null)
        {
            errors.Add(new(path, Required));
            return false;
        }
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
                errors.Add(new($"{path}[{i}]", NotNull));
        }
        return true;
    }

    private static void NotNegative(long value, string path, List<InventoryError> errors)
    {
        if (value < 0)
            errors.Add(new(path, $"{value} is negative"));
    }

    private static void Range(int value, int min, int max, string path, List<InventoryError> errors)
    {
        if (value < min || value > max)
            errors.Add(new(path, $"{value} is not within {min}-{max}"));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex HostnameRule();
}
