using Isola.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

public class ExtraSpecsTests
{
    private static Flavor F(int vcpus, long ram, params (string Key, string Value)[] specs) =>
        new("f", vcpus, ram, 10, specs.ToDictionary(s => s.Key, s => s.Value));

    [Fact]
    public void A_shared_flavor_without_numa_specs_floats()
    {
        var c = ExtraSpecs.Parse(F(2, 2048));
        Assert.Null(c.Cells);
        Assert.Equal((CpuPolicy.Shared, 2, 0), (c.CpuPolicy, c.SharedVcpus, c.DedicatedVcpus));
    }

    [Fact]
    public void Dedicated_implies_one_numa_cell()
    {
        var c = ExtraSpecs.Parse(F(4, 4096, ("hw:cpu_policy", "dedicated"), ("hw:mem_page_size", "1GB"), ("hw:emulator_threads_policy", "isolate")));
        var cell = Assert.Single(c.Cells!);
        Assert.Equal([0, 1, 2, 3], cell.DedicatedVcpus);
        Assert.Equal(new MemPageSize(PageSizeKind.Explicit, 1048576), c.PageSize);
        Assert.Equal(1, c.EmulatorPcpus);
    }

    [Fact]
    public void Numa_nodes_split_evenly_or_as_told()
    {
        var even = ExtraSpecs.Parse(F(8, 8192, ("hw:cpu_policy", "dedicated"), ("hw:numa_nodes", "2")));
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7]], even.Cells!.Select(c => c.DedicatedVcpus.ToArray()));
        Assert.Equal([4096L, 4096L], even.Cells!.Select(c => c.MemMiB));

        var told = ExtraSpecs.Parse(F(6, 6144, ("hw:cpu_policy", "dedicated"), ("hw:numa_nodes", "2"),
            ("hw:numa_cpus.0", "0-1"), ("hw:numa_cpus.1", "2-5"), ("hw:numa_mem.0", "2048"), ("hw:numa_mem.1", "4096")));
        Assert.Equal([[0, 1], [2, 3, 4, 5]], told.Cells!.Select(c => c.DedicatedVcpus.ToArray()));
    }

    [Fact]
    public void Mixed_pins_the_mask_and_floats_the_rest()
    {
        var c = ExtraSpecs.Parse(F(4, 4096, ("hw:cpu_policy", "mixed"), ("hw:cpu_dedicated_mask", "^0-1")));
        var cell = Assert.Single(c.Cells!);
        Assert.Equal([2, 3], cell.DedicatedVcpus);
        Assert.Equal([0, 1], cell.SharedVcpus);
        Assert.Equal(2, c.SharedVcpus);
    }

    [Theory]
    [InlineData("hw:cpu_thread_policy", "hw:cpu_policy=shared&hw:cpu_thread_policy=isolate")]
    [InlineData("hw:emulator_threads_policy", "hw:emulator_threads_policy=isolate")]
    [InlineData("hw:locked_memory", "hw:locked_memory=true")]
    [InlineData("hw:cpu_policy", "hw:cpu_policy=pinned")]
    [InlineData("hw:mem_page_size", "hw:cpu_policy=dedicated&hw:mem_page_size=3MB")]
    [InlineData("hw:mem_page_size", "hw:cpu_policy=dedicated&hw:mem_page_size=1GB&hw:numa_nodes=2&hw:numa_cpus.0=0&hw:numa_cpus.1=1-3&hw:numa_mem.0=1000&hw:numa_mem.1=3096")]
    [InlineData("hw:numa_nodes", "hw:cpu_policy=dedicated&hw:numa_nodes=3")]
    [InlineData("hw:numa_nodes", "hw:numa_nodes=9")]
    [InlineData("hw:numa_cpus.1", "hw:cpu_policy=dedicated&hw:numa_nodes=2&hw:numa_cpus.0=0-1&hw:numa_mem.0=2048&hw:numa_mem.1=2048")]
    [InlineData("hw:numa_cpus.1", "hw:cpu_policy=dedicated&hw:numa_nodes=2&hw:numa_cpus.0=0-2&hw:numa_cpus.1=2-3&hw:numa_mem.0=2048&hw:numa_mem.1=2048")]
    [InlineData("hw:numa_mem.N", "hw:cpu_policy=dedicated&hw:numa_nodes=2&hw:numa_cpus.0=0-1&hw:numa_cpus.1=2-3&hw:numa_mem.0=1024&hw:numa_mem.1=1024")]
    [InlineData("hw:cpu_dedicated_mask", "hw:cpu_policy=mixed")]
    [InlineData("hw:cpu_dedicated_mask", "hw:cpu_policy=mixed&hw:cpu_dedicated_mask=0-3")]
    [InlineData("hw:cpu_dedicated_mask", "hw:cpu_policy=dedicated&hw:cpu_dedicated_mask=0")]
    [InlineData("hw:pci_numa_affinity_policy", "hw:pci_numa_affinity_policy=nearby")]
    [InlineData("hw:cpu_polcy", "hw:cpu_polcy=dedicated")]
    public void Contradictions_name_the_key(string field, string specs)
    {
        var pairs = specs.Split('&').Select(s => s.Split('=')).Select(kv => (kv[0], kv[1])).ToArray();
        var e = Assert.Throws<RequestValidationException>(() => ExtraSpecs.Parse(F(4, 4096, pairs)));
        Assert.Contains(e.Errors, x => x.Field == field);
    }

    [Theory]
    [InlineData("2MB", PageSizeKind.Explicit, 2048L)]
    [InlineData("2048", PageSizeKind.Explicit, 2048L)]
    [InlineData("1GiB", PageSizeKind.Explicit, 1048576L)]
    [InlineData("1048576", PageSizeKind.Explicit, 1048576L)]
    [InlineData("small", PageSizeKind.Small, 4L)]
    [InlineData("large", PageSizeKind.Large, 0L)]
    [InlineData("any", PageSizeKind.Any, 0L)]
    public void Page_sizes_as_nova_reads_them(string text, PageSizeKind kind, long kib) =>
        Assert.Equal(new MemPageSize(kind, kib), ExtraSpecs.Parse(F(2, 2048, ("hw:mem_page_size", text))).PageSize);

    [Fact]
    public void Ports_are_checked_with_the_flavor()
    {
        var e = Assert.Throws<RequestValidationException>(() => PlacementRequest.Create("vm", F(0, 1024),
            [new PortRequest("a", VnicType.Direct, null, false, "fa:16:3e:00:00:01"), new PortRequest("b", VnicType.Macvtap, "physnet2", true, "FA:16:3E:00:00:02"),
             new PortRequest("b", VnicType.Direct, "physnet2", false, "01:00:5e:00:00:01")]));
        Assert.Equal(["vcpus", "ports[0].physnet", "ports[1].ha", "ports[1].mac", "ports[2].mac", "ports"], e.Errors.Select(x => x.Field));
    }
}
