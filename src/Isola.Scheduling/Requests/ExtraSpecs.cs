using System.Globalization;
using Isola.Domain.Cpu;

namespace Isola.Scheduling.Requests;

/// <summary>
/// Reads a flavor's <c>hw:</c> extra specs with Nova's meaning, so operators can bring their
/// flavors. Reports every contradiction together, naming the key.
/// </summary>
public static class ExtraSpecs
{
    public const string CpuPolicyKey = "hw:cpu_policy";
    public const string CpuThreadPolicyKey = "hw:cpu_thread_policy";
    public const string EmulatorThreadsPolicyKey = "hw:emulator_threads_policy";
    public const string CpuDedicatedMaskKey = "hw:cpu_dedicated_mask";
    public const string NumaNodesKey = "hw:numa_nodes";
    public const string NumaCpusPrefix = "hw:numa_cpus.";
    public const string NumaMemPrefix = "hw:numa_mem.";
    public const string MemPageSizeKey = "hw:mem_page_size";
    public const string LockedMemoryKey = "hw:locked_memory";
    public const string PciNumaAffinityPolicyKey = "hw:pci_numa_affinity_policy";

    private static readonly HashSet<string> Known =
    [
        CpuPolicyKey, CpuThreadPolicyKey, EmulatorThreadsPolicyKey, CpuDedicatedMaskKey, NumaNodesKey,
        MemPageSizeKey, LockedMemoryKey, PciNumaAffinityPolicyKey,
    ];

    public static ComputeRequest Parse(Flavor flavor)
    {
        var errors = new List<RequestError>();
        var specs = flavor.ExtraSpecs;
        if (flavor.Vcpus is < 1 or > 1024)
            errors.Add(new RequestError("vcpus", "must be 1-1024"));
        if (flavor.RamMiB is < 1 or > 16L * 1024 * 1024)
            errors.Add(new RequestError("ram", "must be 1 MiB - 16 TiB"));
        foreach (var key in specs.Keys.Where(k => k.StartsWith("hw:", StringComparison.Ordinal) && !Known.Contains(k)
                     && !k.StartsWith(NumaCpusPrefix, StringComparison.Ordinal) && !k.StartsWith(NumaMemPrefix, StringComparison.Ordinal)))
            errors.Add(new RequestError(key, "is not an extra spec Isola knows"));

        var cpuPolicy = Enum(specs, CpuPolicyKey, CpuPolicy.Shared, errors, ("shared", CpuPolicy.Shared), ("dedicated", CpuPolicy.Dedicated), ("mixed", CpuPolicy.Mixed));
        var threadPolicy = Enum(specs, CpuThreadPolicyKey, CpuThreadPolicy.Prefer, errors, ("prefer", CpuThreadPolicy.Prefer), ("isolate", CpuThreadPolicy.Isolate), ("require", CpuThreadPolicy.Require));
        var emulator = Enum(specs, EmulatorThreadsPolicyKey, EmulatorThreadsPolicy.Share, errors, ("share", EmulatorThreadsPolicy.Share), ("isolate", EmulatorThreadsPolicy.Isolate));
        var pci = Enum(specs, PciNumaAffinityPolicyKey, PciNumaAffinityPolicy.Legacy, errors,
            ("legacy", PciNumaAffinityPolicy.Legacy), ("required", PciNumaAffinityPolicy.Required), ("preferred", PciNumaAffinityPolicy.Preferred), ("socket", PciNumaAffinityPolicy.Socket));
        var locked = Enum(specs, LockedMemoryKey, false, errors, ("true", true), ("false", false), ("yes", true), ("no", false));
        var pageSize = ParsePageSize(specs, errors);

        if (cpuPolicy == CpuPolicy.Shared && specs.ContainsKey(CpuThreadPolicyKey))
            errors.Add(new RequestError(CpuThreadPolicyKey, "needs hw:cpu_policy=dedicated or mixed: shared vCPUs are not pinned"));
        if (cpuPolicy == CpuPolicy.Shared && emulator == EmulatorThreadsPolicy.Isolate)
            errors.Add(new RequestError(EmulatorThreadsPolicyKey, "isolate needs hw:cpu_policy=dedicated or mixed"));
        if (locked && pageSize.Kind == PageSizeKind.Default)
            errors.Add(new RequestError(LockedMemoryKey, "needs hw:mem_page_size: locked memory must be accounted per NUMA cell"));

        var dedicatedMask = DedicatedVcpus(flavor, cpuPolicy, errors);
        var numaNodes = specs.TryGetValue(NumaNodesKey, out var nodesText) ? Int(NumaNodesKey, nodesText, 1, 64, errors) : (int?)null;
        var needsNuma = cpuPolicy != CpuPolicy.Shared || pageSize.Kind != PageSizeKind.Default || numaNodes is not null;
        if (numaNodes > flavor.Vcpus)
            errors.Add(new RequestError(NumaNodesKey, $"{numaNodes} cells cannot share {flavor.Vcpus} vCPUs: each cell needs one"));
        if (!needsNuma && specs.Keys.Any(k => k.StartsWith(NumaCpusPrefix, StringComparison.Ordinal) || k.StartsWith(NumaMemPrefix, StringComparison.Ordinal)))
            errors.Add(new RequestError(NumaNodesKey, "hw:numa_cpus.N and hw:numa_mem.N need hw:numa_nodes"));

        IReadOnlyList<GuestCell>? cells = null;
        if (errors.Count == 0 && needsNuma)
            cells = Cells(flavor, numaNodes ?? 1, dedicatedMask, pageSize, errors);
        if (errors.Count > 0)
            throw new RequestValidationException(errors);
        return new ComputeRequest(flavor.Vcpus, flavor.RamMiB, cpuPolicy, threadPolicy, emulator, cells, pageSize, locked, pci);
    }

    private static CpuSet DedicatedVcpus(Flavor flavor, CpuPolicy policy, List<RequestError> errors)
    {
        var all = CpuSet.Range(0, Math.Max(flavor.Vcpus, 0));
        var hasMask = flavor.ExtraSpecs.TryGetValue(CpuDedicatedMaskKey, out var mask);
        if (policy != CpuPolicy.Mixed)
        {
            if (hasMask)
                errors.Add(new RequestError(CpuDedicatedMaskKey, "is only for hw:cpu_policy=mixed"));
            return policy == CpuPolicy.Dedicated ? all : CpuSet.Empty;
        }
        if (!hasMask)
        {
            errors.Add(new RequestError(CpuDedicatedMaskKey, "hw:cpu_policy=mixed needs the vCPUs to pin, e.g. ^0-1 (all but 0-1) or 2-7"));
            return CpuSet.Empty;
        }
        var exclude = mask!.StartsWith('^');
        if (!CpuSet.TryParse(exclude ? mask[1..] : mask, out var set, out var error))
        {
            errors.Add(new RequestError(CpuDedicatedMaskKey, error));
            return CpuSet.Empty;
        }
        if (!set.IsSubsetOf(all))
            errors.Add(new RequestError(CpuDedicatedMaskKey, $"names vCPUs beyond 0-{flavor.Vcpus - 1}"));
        var dedicated = exclude ? all.Except(set) : set.Intersect(all);
        if (dedicated.IsEmpty || dedicated.Count == flavor.Vcpus)
            errors.Add(new RequestError(CpuDedicatedMaskKey, "a mixed guest needs at least one pinned and one shared vCPU"));
        return dedicated;
    }

    private static List<GuestCell>? Cells(Flavor flavor, int count, CpuSet dedicated, MemPageSize pageSize, List<RequestError> errors)
    {
        var specs = flavor.ExtraSpecs;
        var explicitCpus = specs.Keys.Any(k => k.StartsWith(NumaCpusPrefix, StringComparison.Ordinal));
        var explicitMem = specs.Keys.Any(k => k.StartsWith(NumaMemPrefix, StringComparison.Ordinal));
        var cpusPerCell = new List<CpuSet>();
        var memPerCell = new List<long>();
        if (explicitCpus || explicitMem)
        {
            var seen = CpuSet.Empty;
            for (var i = 0; i < count; i++)
            {
                var cpuKey = NumaCpusPrefix + i;
                var memKey = NumaMemPrefix + i;
                if (!specs.TryGetValue(cpuKey, out var cpuText) || !CpuSet.TryParse(cpuText, out var cpus, out _) || cpus.IsEmpty)
                {
                    errors.Add(new RequestError(cpuKey, "every guest cell needs its vCPUs (a cpulist) when any hw:numa_cpus.N is given"));
                    continue;
                }
                if (!seen.Intersect(cpus).IsEmpty)
                    errors.Add(new RequestError(cpuKey, $"vCPUs {seen.Intersect(cpus)} are already in another cell"));
                seen = seen.Union(cpus);
                cpusPerCell.Add(cpus);
                if (!specs.TryGetValue(memKey, out var memText) || !long.TryParse(memText, NumberStyles.None, CultureInfo.InvariantCulture, out var mem) || mem <= 0)
                    errors.Add(new RequestError(memKey, "every guest cell needs its memory in MiB when any hw:numa_mem.N is given"));
                else
                    memPerCell.Add(mem);
            }
            if (errors.Count == 0 && !seen.Equals(CpuSet.Range(0, flavor.Vcpus)))
                errors.Add(new RequestError(NumaCpusPrefix + "N", $"the cells must hold vCPUs 0-{flavor.Vcpus - 1} exactly once; they hold {seen}"));
            if (errors.Count == 0 && memPerCell.Sum() != flavor.RamMiB)
                errors.Add(new RequestError(NumaMemPrefix + "N", $"the cells' memory adds up to {memPerCell.Sum()} MiB, not the flavor's {flavor.RamMiB} MiB"));
        }
        else
        {
            if (flavor.Vcpus % count != 0)
                errors.Add(new RequestError(NumaNodesKey, $"{flavor.Vcpus} vCPUs do not split evenly over {count} cells; give hw:numa_cpus.N"));
            if (flavor.RamMiB % count != 0)
                errors.Add(new RequestError(NumaNodesKey, $"{flavor.RamMiB} MiB does not split evenly over {count} cells; give hw:numa_mem.N"));
            for (var i = 0; i < count; i++)
            {
                cpusPerCell.Add(CpuSet.Range(i * (flavor.Vcpus / count), flavor.Vcpus / count));
                memPerCell.Add(flavor.RamMiB / count);
            }
        }
        if (pageSize.Kind == PageSizeKind.Explicit && pageSize.SizeKiB > MemPageSize.SmallKiB)
        {
            var pageMiB = pageSize.SizeKiB / 1024;
            for (var i = 0; i < memPerCell.Count; i++)
            {
                if (memPerCell[i] % pageMiB != 0)
                    errors.Add(new RequestError(MemPageSizeKey, $"guest cell {i} has {memPerCell[i]} MiB, not a whole number of {pageMiB} MiB pages"));
            }
        }
        if (errors.Count > 0)
            return null;
        return cpusPerCell.Select((cpus, i) => new GuestCell(i,
            cpus.Where(dedicated.Contains).ToList(), cpus.Where(c => !dedicated.Contains(c)).ToList(), memPerCell[i])).ToList();
    }

    private static MemPageSize ParsePageSize(IReadOnlyDictionary<string, string> specs, List<RequestError> errors)
    {
        if (!specs.TryGetValue(MemPageSizeKey, out var text))
            return new MemPageSize(PageSizeKind.Default);
        switch (text.ToLowerInvariant())
        {
            case "small":
                return new MemPageSize(PageSizeKind.Small, MemPageSize.SmallKiB);
            case "large":
                return new MemPageSize(PageSizeKind.Large);
            case "any":
                return new MemPageSize(PageSizeKind.Any);
        }
        // "2MB", "1GB", "2048" (KiB, as Nova reads a bare number), "1GiB".
        var t = text.ToUpperInvariant().Replace("IB", "", StringComparison.Ordinal).TrimEnd('B');
        long? kib = t.Length == 0 ? null
            : t[^1] switch
            {
                'K' => Number(t[..^1]),
                'M' => Number(t[..^1]) * 1024,
                'G' => Number(t[..^1]) * 1024 * 1024,
                _ => Number(t),
            };
        if (kib is not (4 or 2048 or 1048576))
        {
            errors.Add(new RequestError(MemPageSizeKey, $"'{text}' is not small, large, any or a page size this platform has (4KB, 2MB, 1GB)"));
            return new MemPageSize(PageSizeKind.Default);
        }
        return kib == 4 ? new MemPageSize(PageSizeKind.Small, 4) : new MemPageSize(PageSizeKind.Explicit, kib.Value);

        static long? Number(string s) => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    private static int? Int(string key, string text, int min, int max, List<RequestError> errors)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            return n;
        errors.Add(new RequestError(key, $"'{text}' is not a whole number {min}-{max}"));
        return null;
    }

    private static T Enum<T>(IReadOnlyDictionary<string, string> specs, string key, T fallback, List<RequestError> errors, params (string Text, T Value)[] values)
    {
        if (!specs.TryGetValue(key, out var text))
            return fallback;
        foreach (var (t, v) in values)
        {
            if (string.Equals(t, text, StringComparison.OrdinalIgnoreCase))
                return v;
        }
        errors.Add(new RequestError(key, $"'{text}' is not one of {string.Join(", ", values.Select(v => v.Text).Distinct())}"));
        return fallback;
    }
}
