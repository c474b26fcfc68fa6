using Isola.Rendering.Isolation;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Isola.Rendering.Vf;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Facets;

/// <summary>
/// The server files in the agent's state directory: the facets keep their parts in the same JSON
/// object as before, so an agent upgraded in place knows what it applied (and an older one reads the new files).
/// </summary>
public sealed class AppliedServerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly VfSettings Vf = new("p1", "ens1f0", "i40e", PciAddress.Parse("0000:3b:00.0"), PciAddress.Parse("0000:3b:02.0"), 3,
        VfState.Reset with { Mac = "fa:16:3e:00:00:01", Vlan = 100 });

    /// <summary>A file as the agent before the facets wrote it (AppliedServer with IrqsBefore and Vhost as its own fields).</summary>
    private static string Before(string irqsBefore, string vhost) => $$"""
        {
          "id": "s1",
          "domain": "isola-s1",
          "vfs": [ {{JsonSerializer.Serialize(Vf, IsolaJson.Options)}} ],
          "irqsBefore": {{irqsBefore}},
          "vhost": {{vhost}}
        }
        """;

    private AppliedStore Store(string json)
    {
        Directory.CreateDirectory(Path.Join(_dir.Path, "servers"));
        File.WriteAllText(Path.Join(_dir.Path, "servers", "s1.json"), json);
        return new AppliedStore(_dir.Path);
    }

    [Fact]
    public void A_file_an_agent_before_the_facets_wrote_is_read_with_its_irqs_and_vhost_pins()
    {
        var record = Store(Before("""{ "90": "0-15", "101": "2" }""", """{ "qemuPid": 4000, "tids": [4001, 4002] }""")).Load()["s1"];
        Assert.Equal(("s1", "isola-s1", Vf), (record.Id, record.Domain, Assert.Single(record.Vfs)));
        Assert.Equal(new Dictionary<int, string> { [90] = "0-15", [101] = "2" }, IrqFacet.Before(record));
        var pinned = VhostFacet.Pinned(record)!;
        Assert.Equal(4000, pinned.QemuPid);
        Assert.Equal([4001, 4002], pinned.Tids);

        // Gone from the desired state: its IRQs are put back from that file.
        var actual = ActualHost.Of(new IrqReading(new Dictionary<PciAddress, IReadOnlyList<HostVector>>(), new Dictionary<PciAddress, string>(), new Dictionary<int, string> { [90] = "5", [101] = "7" }));
        Assert.Equal([new IrqFacet.RestoreIrq("s1", 90, "0-15"), new IrqFacet.RestoreIrq("s1", 101, "2")], new IrqFacet().PlanTakeDown(record, actual));
    }

    [Fact]
    public void Nulls_an_older_agent_wrote_are_no_parts()
    {
        var record = Store(Before("null", "null")).Load()["s1"];
        Assert.Empty(IrqFacet.Before(record));
        Assert.Null(VhostFacet.Pinned(record));
    }

    [Fact]
    public void A_file_written_now_has_the_fields_of_before_and_one_part_set_keeps_the_others()
    {
        var store = Store(Before("""{ "90": "0-15" }""", "null"));
        store.Save(store.Load()["s1"].WithPart(VhostFacet.Memory, new PinnedVhost(4000, [4001])));
        var json = JsonDocument.Parse(File.ReadAllText(Path.Join(_dir.Path, "servers", "s1.json"))).RootElement;
        Assert.Equal(["id", "domain", "vfs", "irqsBefore", "vhost"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("0-15", json.GetProperty("irqsBefore").GetProperty("90").GetString());
        Assert.Equal(4001, json.GetProperty("vhost").GetProperty("tids")[0].GetInt32());

        // A new server's file holds only what it has.
        store.Save(new AppliedServer("s2", "isola-s2", []));
        Assert.Equal(["id", "domain", "vfs"],
            JsonDocument.Parse(File.ReadAllText(Path.Join(_dir.Path, "servers", "s2.json"))).RootElement.EnumerateObject().Select(p => p.Name));
    }
}
