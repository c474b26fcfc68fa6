using System.Text.Json.Nodes;
using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Host.Hardware;
using Isola.Tests.Scheduling;

namespace Isola.Tests.Domain;

/// <summary>The inventory rules and the reader, without a server: each broken rule names its path.</summary>
public class InventoryRulesTests
{
    // Two cells of 4 CPUs (SMT pairs), one 2-port NIC with 2 VFs per port on cell 0.
    private static HostTopology Host() => new HostBuilder("h1").Sockets(2).Cores(2).Threads(2).Pages1G(4).Nic(0, "physnet2", 2, ports: 2).Build();

    private static IReadOnlyList<string> Paths(InventoryDocument doc) => InventoryRules.Check(doc).Select(e => e.Path).ToList();

    public static TheoryData<string> BuiltInProfiles() => new(ProfileCatalog.BuiltIn.Select(p => p.Name));

    [Theory]
    [MemberData(nameof(BuiltInProfiles))]
    public void Every_built_in_profile_is_a_good_inventory(string profile)
    {
        var host = ProfileExpander.Expand(ProfileCatalog.Get(profile));
        Assert.Empty(InventoryRules.Check(InventoryDocument.Of(host)));
        Assert.NotNull(InventoryDocument.TryRead(InventoryDocument.Of(host).ToJson(), out var errors));
        Assert.Empty(errors);
    }

    public static TheoryData<string, string> BrokenRules() => new()
    {
        { "no CPUs", "host.cpus" },
        { "no cells", "host.cells" },
        { "CPU on a cell that does not exist", "host.cpus[0].cell" },
        { "CPU in two cells", "host.cells[1].cpus" },
        { "cell lists a CPU that is not there", "host.cells[0].cpus" },
        { "duplicate CPU id", "host.cpus[1].id" },
        { "duplicate cell id", "host.cells[1].id" },
        { "negative memory", "host.cells[0].memTotalKiB" },
        { "more free than total", "host.cells[0].memFreeKiB" },
        { "negative hugepages", "host.cells[1].hugepages[0].total" },
        { "hugepage size that is not a size", "host.cells[0].hugepages[0].pageSizeKiB" },
        { "kernel reservation that is not a size", "host.kernel.hugepages[0].pageSizeKiB" },
        { "device on a cell that does not exist", "host.devices[1].numaNode" },
        { "duplicate PF address", "host.devices[1].address" },
        { "duplicate VF address", "host.devices[0].vfs[1].address" },
        { "VF at its neighbour PF's address", "host.devices[0].vfs[0].address" },
        { "VF in another PCI domain", "host.devices[1].vfs[0].address" },
        { "duplicate VF index", "host.devices[0].vfs[1].index" },
        { "more VFs enabled than possible", "host.devices[0].numVfs" },
        { "PF on a physnet without a netdev", "host.devices[1].netDev" },
        { "VLAN out of range", "host.devices[0].vfs[0].state.vlan" },
        { "siblings without the CPU", "host.cpus[2].siblings" },
        { "bad hostname", "host.hostname" },
        { "null lists", "host.cells" },
        { "null item", "host.devices[0].vfs[1]" },
    };

    [Theory]
    [MemberData(nameof(BrokenRules))]
    public void A_broken_rule_is_named_by_its_path(string rule, string path)
    {
        var h = Host();
        var pf0 = h.Devices[0];
        var pf1 = h.Devices[1];
        HostTopology broken = rule switch
        {
            "no CPUs" => h with { Cpus = [] },
            "no cells" => h with { Cells = [] },
            "CPU on a cell that does not exist" => h with { Cpus = [h.Cpus[0] with { Cell = 7 }, .. h.Cpus.Skip(1)] },
            "CPU in two cells" => h with { Cells = [h.Cells[0], h.Cells[1] with { Cpus = h.Cells[1].Cpus.Union(Isola.Domain.Cpu.CpuSet.Of(h.Cells[0].Cpus[0])) }] },
            "cell lists a CPU that is not there" => h with { Cells = [h.Cells[0] with { Cpus = h.Cells[0].Cpus.Union(Isola.Domain.Cpu.CpuSet.Of(99)) }, h.Cells[1]] },
            "duplicate CPU id" => h with { Cpus = [h.Cpus[0], h.Cpus[1] with { Id = h.Cpus[0].Id }, .. h.Cpus.Skip(2)] },
            "duplicate cell id" => h with { Cells = [h.Cells[0], h.Cells[1] with { Id = h.Cells[0].Id }] },
            "negative memory" => h with { Cells = [h.Cells[0] with { MemTotalKiB = -1 }, h.Cells[1]] },
            "more free than total" => h with { Cells = [h.Cells[0] with { MemFreeKiB = h.Cells[0].MemTotalKiB + 1 }, h.Cells[1]] },
            "negative hugepages" => h with { Cells = [h.Cells[0], h.Cells[1] with { Hugepages = [h.Cells[1].Hugepages[0] with { Total = -4, Free = -4 }] }] },
            "hugepage size that is not a size" => h with { Cells = [h.Cells[0] with { Hugepages = [h.Cells[0].Hugepages[0] with { PageSizeKiB = 3000 }] }, h.Cells[1]] },
            "kernel reservation that is not a size" => h with { Kernel = h.Kernel with { Hugepages = [new HugepageReservation(0, 4)] } },
            "device on a cell that does not exist" => h with { Devices = [pf0, pf1 with { NumaNode = 2 }] },
            "duplicate PF address" => h with { Devices = [pf0, pf1 with { Address = pf0.Address }] },
            "duplicate VF address" => h with { Devices = [pf0 with { Vfs = [pf0.Vfs[0], pf0.Vfs[1] with { Address = pf0.Vfs[0].Address }] }, pf1] },
            "VF at its neighbour PF's address" => h with { Devices = [pf0 with { Vfs = [pf0.Vfs[0] with { Address = pf1.Address }, pf0.Vfs[1]] }, pf1] },
            "VF in another PCI domain" => h with { Devices = [pf0, pf1 with { Vfs = [pf1.Vfs[0] with { Address = pf1.Vfs[0].Address with { Domain = 1 } }, pf1.Vfs[1]] }] },
            "duplicate VF index" => h with { Devices = [pf0 with { Vfs = [pf0.Vfs[0], pf0.Vfs[1] with { Index = pf0.Vfs[0].Index }] }, pf1] },
            "more VFs enabled than possible" => h with { Devices = [pf0 with { NumVfs = pf0.TotalVfs + 1 }, pf1] },
            // The renderer programs a VF through its PF's netdev (ip link set dev PF vf N): the scheduler must never see one without.
            "PF on a physnet without a netdev" => h with { Devices = [pf0, pf1 with { NetDev = null }] },
            "VLAN out of range" => h with { Devices = [pf0 with { Vfs = [pf0.Vfs[0] with { State = VfState.Reset with { Vlan = 4096 } }, pf0.Vfs[1]] }, pf1] },
            "siblings without the CPU" => h with { Cpus = [.. h.Cpus.Take(2), h.Cpus[2] with { Siblings = Isola.Domain.Cpu.CpuSet.Of(h.Cpus[3].Id) }, .. h.Cpus.Skip(3)] },
            "bad hostname" => h with { Hostname = "h1\nInjected: yes" },
            "null lists" => h with { Cells = null!, Devices = null! },
            "null item" => h with { Devices = [pf0 with { Vfs = [pf0.Vfs[0], null!] }, pf1] },
            _ => throw new ArgumentException(rule),
        };
        Assert.Empty(InventoryRules.Check(InventoryDocument.Of(h)));
        Assert.Contains(path, Paths(InventoryDocument.Of(broken)));
        // And the reader refuses the document it writes.
        Assert.Null(InventoryDocument.TryRead(InventoryDocument.Of(broken).ToJson(), out var errors));
        Assert.Contains(path, errors.Select(e => e.Path));
    }

    [Fact]
    public void A_cpu_in_two_cells_is_said_once_naming_both()
    {
        var h = Host();
        var cpu = h.Cells[0].Cpus[0];
        var broken = h with { Cells = [h.Cells[0], h.Cells[1] with { Cpus = h.Cells[1].Cpus.Union(Isola.Domain.Cpu.CpuSet.Of(cpu)) }] };
        var error = Assert.Single(InventoryRules.Check(InventoryDocument.Of(broken)));
        Assert.Equal($"host.cells[1].cpus: CPU {cpu} is also in host.cells[0].cpus: a CPU is on one cell", error.ToString());
    }

    [Fact]
    public void A_hosts_virtualization_is_a_domain_type_libvirt_runs_and_absolute_paths()
    {
        var host = Host() with { Virtualization = new HostVirtualization("xen", InstancesDirectory: "instances", Emulator: "/usr/bin/../bin/qemu") };
        Assert.Null(InventoryDocument.TryRead(InventoryDocument.Of(host).ToJson(), out var errors));
        Assert.Equal(new Dictionary<string, string>
        {
            ["host.virtualization.domainType"] = "'xen' is not a domain type libvirt's QEMU driver runs (kvm or qemu)",
            ["host.virtualization.instancesDirectory"] = "must be an absolute path without '..' or control characters",
            ["host.virtualization.emulator"] = "must be an absolute path without '..' or control characters",
        }, errors.ToDictionary(e => e.Path, e => e.Rule));
        var tcg = Host() with { Virtualization = new HostVirtualization(HostVirtualization.Qemu, VhostNet: false, InstancesDirectory: "/srv/isola") };
        Assert.Equal(tcg.Virtualization, InventoryDocument.TryRead(InventoryDocument.Of(tcg).ToJson(), out _)!.Host!.Virtualization);
    }

    [Fact]
    public void The_half_document_of_the_issue_names_each_missing_field()
    {
        Assert.Null(InventoryDocument.TryRead("""{"schemaVersion":1,"host":{"hostname":"x"}}""", out var errors));
        Assert.Equal(["host.cells", "host.cpus", "host.kernel", "host.iommuActive", "host.devices", "host.warnings"], errors.Select(e => e.Path));
        Assert.All(errors, e => Assert.Equal("required", e.Rule));
    }

    [Fact]
    public void The_shape_is_checked_against_the_records()
    {
        var json = JsonNode.Parse(InventoryDocument.Of(Host()).ToJson())!;
        var host = json["host"]!;
        host["devices"]![0]!["vfs"] = null;
        host["devices"]![1]!["vfs"]![0]!["msiIrqs"] = new JsonArray(1, null);
        host["cells"]![0]!["id"] = "0";
        host["cells"]![1]!["memTotalKiB"] = JsonNode.Parse("1e30");
        host["cpus"]![0]!["online"] = "yes";
        host["kernel"]!["iommu"] = "sometimes";
        host["devices"]![0]!["classCode"] = 131072;
        host["devices"]![1]!["numaNode"] = null; // may be null: unknown
        Assert.Null(InventoryDocument.TryRead(json.ToJsonString(), out var errors));
        Assert.Equal(new Dictionary<string, string>
        {
            ["host.cells[0].id"] = "must be a whole number from -2147483648 to 2147483647",
            ["host.cells[1].memTotalKiB"] = "must be a whole number from -9223372036854775808 to 9223372036854775807",
            ["host.cpus[0].online"] = "must be true or false",
            ["host.kernel.iommu"] = "must be one of: default, on, passthrough, off",
            ["host.devices[0].classCode"] = "must be a class code string 0xCCSSPP",
            ["host.devices[0].vfs"] = "must not be null",
            ["host.devices[1].vfs[0].msiIrqs[1]"] = "must not be null",
        }, errors.ToDictionary(e => e.Path, e => e.Rule));
    }

    [Theory]
    [InlineData("{ not json", "")]
    [InlineData("null", "")]
    [InlineData("[]", "")]
    [InlineData("""{"schemaVersion":2,"host":null}""", "host")]
    public void What_is_not_an_inventory_is_refused_not_thrown(string json, string path)
    {
        Assert.Null(InventoryDocument.TryRead(json, out var errors));
        Assert.Equal(path, errors[0].Path);
        Assert.Throws<System.Text.Json.JsonException>(() => InventoryDocument.Parse(json));
    }

    [Fact]
    public void A_value_a_converter_refuses_is_named_by_its_path()
    {
        var json = JsonNode.Parse(InventoryDocument.Of(Host()).ToJson())!;
        json["host"]!["cells"]![1]!["cpus"] = "4-x";
        Assert.Null(InventoryDocument.TryRead(json.ToJsonString(), out var errors));
        Assert.Equal("host.cells[1].cpus", Assert.Single(errors).Path);
    }

    [Fact]
    public void Cpulists_may_not_name_more_than_a_million_cpus_in_all()
    {
        // 20 bytes a CPU, each naming 65536 siblings: read as written, gigabytes.
        var json = JsonNode.Parse(InventoryDocument.Of(Host()).ToJson())!;
        var cpus = json["host"]!["cpus"]!.AsArray();
        foreach (var cpu in cpus)
            cpu!["siblings"] = "0-65535";
        var template = cpus[0]!.ToJsonString();
        for (var i = 0; i < 30; i++)
            cpus.Add(JsonNode.Parse(template));
        Assert.Null(InventoryDocument.TryRead(json.ToJsonString(), out var errors));
        Assert.Contains("cpulists name more than", Assert.Single(errors).Rule, StringComparison.Ordinal);
        Assert.StartsWith("host.cpus[", errors[0].Path, StringComparison.Ordinal);
    }

    [Fact]
    public void A_document_past_the_size_limit_is_refused_before_it_is_parsed()
    {
        var json = new string(' ', InventoryDocument.MaxBytes) + InventoryDocument.Of(Host()).ToJson();
        Assert.Null(InventoryDocument.TryRead(json, out var errors));
        Assert.Contains("larger than", Assert.Single(errors).Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void Numa_node_minus_one_is_read_as_unknown()
    {
        var h = Host();
        var doc = InventoryDocument.Of(h with { Devices = [h.Devices[0] with { NumaNode = -1 }, h.Devices[1]] });
        var read = InventoryDocument.TryRead(doc.ToJson(), out var errors);
        Assert.Empty(errors);
        Assert.Equal([null, 0], read!.Host.Devices.Select(d => d.NumaNode));
    }

    [Fact]
    public void At_most_fifty_errors_are_told()
    {
        var h = Host();
        var many = h with { Devices = [h.Devices[0] with { Vfs = Enumerable.Repeat(h.Devices[0].Vfs[0] with { Index = -1 }, 80).ToList() }, h.Devices[1]] };
        Assert.Null(InventoryDocument.TryRead(InventoryDocument.Of(many).ToJson(), out var errors));
        Assert.Equal(InventoryDocument.MaxErrors, errors.Count);
    }
}
