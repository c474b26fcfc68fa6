using System.Globalization;
using Isola.Domain.Cpu;

namespace Isola.Domain.Topology;

/// <summary>A hugepage reservation from the command line: <c>hugepagesz=1G hugepages=16</c>.</summary>
public sealed record HugepageReservation(long PageSizeKiB, int Count);

/// <summary>The facts Isola needs from <c>/proc/cmdline</c>.</summary>
/// <param name="IsolCpusFlags">The flags before the list in <c>isolcpus=</c> (domain, managed_irq, nohz).</param>
/// <param name="DefaultHugepageSizeKiB"><c>default_hugepagesz=</c>, null when absent.</param>
public sealed record KernelCommandLine(
    string Raw,
    IommuMode Iommu,
    CpuSet IsolCpus,
    IReadOnlyList<string> IsolCpusFlags,
    CpuSet NohzFull,
    CpuSet RcuNocbs,
    CpuSet? IrqAffinity,
    long? DefaultHugepageSizeKiB,
    IReadOnlyList<HugepageReservation> Hugepages)
{
    public static KernelCommandLine Empty { get; } = Parse("", out _);

    /// <summary>
    /// Parses a kernel command line. Unknown parameters are ignored; values that do not parse
    /// are reported in <paramref name="problems"/> and left out.
    /// </summary>
    public static KernelCommandLine Parse(string raw, out IReadOnlyList<string> problems)
    {
        var errors = new List<string>();
        var iommu = IommuMode.Default;
        var isol = CpuSet.Empty;
        var isolFlags = new List<string>();
        var nohz = CpuSet.Empty;
        var rcu = CpuSet.Empty;
        CpuSet? irqAffinity = null;
        long? defaultSize = null;
        long? currentSize = null;
        var pages = new List<HugepageReservation>();

        foreach (var token in raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? token : token[..eq];
            var value = eq < 0 ? "" : token[(eq + 1)..];
            switch (key)
            {
                case "intel_iommu" or "amd_iommu":
                    var opts = value.Split(',');
                    if (opts.Contains("off"))
                        iommu = IommuMode.Off;
                    else if (opts.Contains("on") && iommu is IommuMode.Default)
                        iommu = IommuMode.On;
                    break;
                case "iommu":
                    if (value == "pt" && iommu is not IommuMode.Off)
                        iommu = IommuMode.Passthrough;
                    else if (value == "off")
                        iommu = IommuMode.Off;
                    break;
                case "isolcpus":
                    // isolcpus=[flag,...,]cpulist: flags are words, the list starts at the first digit.
                    var parts = value.Split(',');
                    var firstCpu = Array.FindIndex(parts, p => p.Length > 0 && char.IsAsciiDigit(p[0]));
                    isolFlags.AddRange(firstCpu < 0 ? parts : parts[..firstCpu]);
                    if (firstCpu >= 0)
                        isol = ParseList(key, string.Join(',', parts[firstCpu..]), errors);
                    break;
                case "nohz_full":
                    nohz = ParseList(key, value, errors);
                    break;
                case "rcu_nocbs":
                    rcu = ParseList(key, value, errors);
                    break;
                case "irqaffinity":
                    irqAffinity = ParseList(key, value, errors);
                    break;
                case "default_hugepagesz":
                    defaultSize = ParseSize(key, value, errors);
                    break;
                case "hugepagesz":
                    currentSize = ParseSize(key, value, errors);
                    break;
                case "hugepages":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
                    {
                        errors.Add($"hugepages='{value}' is not a page count");
                        break;
                    }
                    // A count before any hugepagesz= applies to the default size (2 MiB on x86).
                    var size = currentSize ?? defaultSize ?? HugepagePool.Size2M;
                    pages.RemoveAll(p => p.PageSizeKiB == size);
                    pages.Add(new HugepageReservation(size, count));
                    break;
            }
        }
        problems = errors;
        return new KernelCommandLine(raw.Trim(), iommu, isol, isolFlags, nohz, rcu, irqAffinity, defaultSize, pages);
    }

    private static CpuSet ParseList(string key, string value, List<string> errors)
    {
        if (CpuSet.TryParse(value, out var set, out var error))
            return set;
        errors.Add($"{key}={value}: {error}");
        return CpuSet.Empty;
    }

    private static long? ParseSize(string key, string value, List<string> errors)
    {
        var size = ParseMemorySizeKiB(value);
        if (size is null)
            errors.Add($"{key}='{value}' is not a size such as 2M or 1G");
        return size;
    }

    /// <summary>Parses the kernel's memparse sizes: "2M", "1G", "2048K", "1073741824" (bytes).</summary>
    public static long? ParseMemorySizeKiB(string value)
    {
        if (value.Length == 0)
            return null;
        var unit = char.ToUpperInvariant(value[^1]);
        var digits = char.IsAsciiDigit(unit) ? value : value[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
            return null;
        return unit switch
        {
            'K' => n,
            'M' => n * 1024,
            'G' => n * 1024 * 1024,
            _ when char.IsAsciiDigit(unit) => n % 1024 == 0 ? n / 1024 : null,
            _ => null,
        };
    }
}
