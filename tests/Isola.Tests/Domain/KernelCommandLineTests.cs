using Isola.Domain.Topology;

namespace Isola.Tests.Domain;

public class KernelCommandLineTests
{
    [Theory]
    [InlineData("ro quiet", IommuMode.Default)]
    [InlineData("intel_iommu=on", IommuMode.On)]
    [InlineData("amd_iommu=on iommu=pt", IommuMode.Passthrough)]
    [InlineData("intel_iommu=on,sm_on iommu=pt", IommuMode.Passthrough)]
    [InlineData("iommu=pt intel_iommu=off", IommuMode.Off)]
    [InlineData("intel_iommu=off iommu=pt", IommuMode.Off)]
    public void Iommu_mode(string cmdline, IommuMode expected) =>
        Assert.Equal(expected, KernelCommandLine.Parse(cmdline, out _).Iommu);

    [Fact]
    public void Isolation_flags_and_lists()
    {
        var k = KernelCommandLine.Parse("BOOT_IMAGE=/vmlinuz isolcpus=managed_irq,domain,2-11,14-23 nohz_full=2-11 rcu_nocbs=2-11 irqaffinity=0-1", out var problems);
        Assert.Empty(problems);
        Assert.Equal("2-11,14-23", k.IsolCpus.ToString());
        Assert.Equal(["managed_irq", "domain"], k.IsolCpusFlags);
        Assert.Equal("2-11", k.NohzFull.ToString());
        Assert.Equal("2-11", k.RcuNocbs.ToString());
        Assert.Equal("0-1", k.IrqAffinity!.ToString());
    }

    [Fact]
    public void Isolcpus_without_flags()
    {
        var k = KernelCommandLine.Parse("isolcpus=4-7", out _);
        Assert.Equal("4-7", k.IsolCpus.ToString());
        Assert.Empty(k.IsolCpusFlags);
    }

    [Fact]
    public void Hugepage_counts_bind_to_the_size_before_them()
    {
        var k = KernelCommandLine.Parse("default_hugepagesz=1G hugepagesz=1G hugepages=16 hugepagesz=2M hugepages=1024", out _);
        Assert.Equal(HugepagePool.Size1G, k.DefaultHugepageSizeKiB);
        Assert.Equal([new HugepageReservation(HugepagePool.Size1G, 16), new HugepageReservation(HugepagePool.Size2M, 1024)], k.Hugepages);
    }

    [Fact]
    public void A_count_before_any_size_is_for_the_default_size()
    {
        Assert.Equal([new HugepageReservation(HugepagePool.Size2M, 512)], KernelCommandLine.Parse("hugepages=512", out _).Hugepages);
        Assert.Equal([new HugepageReservation(HugepagePool.Size1G, 8)], KernelCommandLine.Parse("default_hugepagesz=1G hugepages=8", out _).Hugepages);
    }

    [Fact]
    public void Bad_values_are_reported_and_left_out()
    {
        var k = KernelCommandLine.Parse("isolcpus=domain,3-1 hugepagesz=3X hugepages=many nohz_full=a", out var problems);
        Assert.True(k.IsolCpus.IsEmpty);
        Assert.True(k.NohzFull.IsEmpty);
        Assert.Empty(k.Hugepages);
        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("isolcpus=", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("hugepagesz='3X'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("2M", 2048L)]
    [InlineData("1G", 1048576L)]
    [InlineData("2048k", 2048L)]
    [InlineData("2097152", 2048L)]
    [InlineData("0M", null)]
    [InlineData("1T", null)]
    public void Memory_sizes(string text, long? kib) => Assert.Equal(kib, KernelCommandLine.ParseMemorySizeKiB(text));
}
