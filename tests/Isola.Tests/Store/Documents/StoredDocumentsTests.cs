using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;
using Isola.Tests.Rendering;

namespace Isola.Tests.Store.Documents;

public sealed class StoredDocumentsTests
{
    public static TheoryData<string> Cases => [.. RenderCases.Names];

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_placement_and_a_server_spec_read_back_as_they_were_written(string name)
    {
        var input = RenderCases.Input(name);
        var placed = StoredDocument<Placement>.Of(input.Placement);
        // With what the server boots with (an image, user-data, keys), where the case has it.
        var asked = StoredDocument<ServerSpec>.Of(new ServerSpec(input.Flavor, input.Ports, input.Boot));

        var placement = StoredDocument<Placement>.FromColumn(placed.Json).Value;
        var spec = StoredDocument<ServerSpec>.FromColumn(asked.Json).Value;

        Assert.Equal(placed.Json, StoredDocuments.Write(placement));
        Assert.Equal(asked.Json, StoredDocuments.Write(spec));
        // What matters of a round trip: the host plan made from the stored documents is the one made from the values.
        var direct = HostPlanner.Render(input with { Uuid = "s1", DomainName = ServerSpec.DomainName("s1") });
        var stored = spec.Plan("s1", placement, input.Host);
        Assert.Equal(JsonSerializer.Serialize(direct, IsolaJson.Options), JsonSerializer.Serialize(stored, IsolaJson.Options));
    }

    [Fact]
    public void A_document_is_stored_compact_in_Isolas_conventions()
    {
        var json = StoredDocuments.Write(RenderCases.Input("direct-dedicated").Placement);

        Assert.DoesNotContain("\n", json);
        using var doc = JsonDocument.Parse(json);
        var vf = doc.RootElement.GetProperty("vfs")[0];
        Assert.Matches("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$", vf.GetProperty("vf").GetString());
    }

    [Fact]
    public void A_server_spec_stored_before_images_reads_with_no_boot_and_plans_a_blank_disk()
    {
        var input = RenderCases.Input("direct-dedicated");
        using var doc = JsonDocument.Parse(StoredDocuments.Write(new ServerSpec(input.Flavor, input.Ports)));
        // The spec as an earlier release wrote it: no "boot" at all.
        var old = new Dictionary<string, JsonElement>(doc.RootElement.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.Clone())));
        old.Remove("boot");
        Assert.True(old.ContainsKey("flavor") && old.ContainsKey("ports"), string.Join(", ", old.Keys));

        var spec = StoredDocuments.Read<ServerSpec>(JsonSerializer.Serialize(old));
        var plan = spec.Plan("s1", input.Placement, input.Host);

        Assert.Null(spec.Boot);
        Assert.Equal((input.Flavor.DiskGiB, null), (plan.Disk!.SizeGiB, plan.Disk.Image));
        Assert.DoesNotContain("public-keys", plan.ConfigDrive!.MetaData, StringComparison.Ordinal);
    }

    [Fact]
    public void An_image_reference_stored_before_its_sizes_were_kept_reads_with_none()
    {
        var image = StoredDocuments.Read<Isola.Rendering.Boot.ImageRef>("""{"id":"i1","diskFormat":"qcow2","checksum":"ab","size":5}""");

        Assert.Equal(new Isola.Rendering.Boot.ImageRef("i1", "qcow2", "ab", 5, 0, 0), image);
    }

    [Fact]
    public void A_document_from_a_column_is_read_when_first_used_and_then_kept()
    {
        var broken = StoredDocument<Placement>.FromColumn("{not json");

        Assert.Equal("{not json", broken.Json);
        Assert.ThrowsAny<JsonException>(() => broken.Value);

        var good = StoredDocument<Placement>.FromColumn(StoredDocuments.Write(RenderCases.Input("macvtap").Placement));
        Assert.Same(good.Value, good.Value);
    }

    [Fact]
    public void A_stored_null_is_refused_with_the_documents_name()
    {
        var e = Assert.ThrowsAny<JsonException>(() => StoredDocuments.Read<ServerSpec>("null"));

        Assert.Equal("a stored server spec is null", e.Message);
        Assert.Equal("port binding", StoredDocuments.NameOf<PortBinding>());
    }

    [Theory]
    [InlineData(null, "none stored")]
    [InlineData("null", "a stored placement is null")]
    [InlineData("[1,2]", "could not be converted")]
    [InlineData("{\"vfs\":[{\"vf\":\"not-an-address\"}]}", "not-an-address")]
    public void A_document_that_is_missing_or_does_not_read_says_why(string? json, string problem)
    {
        Assert.False(StoredDocuments.TryRead<Placement>(json, out var placement, out var why));

        Assert.Null(placement);
        Assert.Contains(problem, why);
    }

    [Fact]
    public void A_port_binding_keeps_the_stored_shape_of_earlier_releases()
    {
        var placement = RenderCases.Input("ha-active-backup").Placement;

        var binding = PortBinding.Of(placement, "bond");

        // The form bindings were stored in before they had a type (rows written then must still read).
        var earlier = JsonSerializer.Serialize(new
        {
            host = placement.Host,
            vfs = placement.Vfs.Where(v => v.Port == "bond").Select(v => new { pf = v.Pf.ToString(), pfNetDev = v.PfNetDev, vf = v.Vf.ToString(), v.VfIndex }),
            pf = placement.Pfs.FirstOrDefault(x => x.Port == "bond")?.Pf.ToString(),
            haLegs = placement.HaLegsOf("bond"),
        }, IsolaJson.Compact);
        Assert.Equal(earlier, StoredDocuments.Write(binding));
        Assert.Equal(binding with { Vfs = [] }, StoredDocuments.Read<PortBinding>(earlier) with { Vfs = [] });
        Assert.Equal(binding.Vfs, StoredDocuments.Read<PortBinding>(earlier).Vfs);
        Assert.Equal(2, binding.Vfs.Count);
        Assert.NotNull(binding.HaLegs);
        Assert.Contains("\"haLegs\":\"same-adapter\"", earlier, StringComparison.Ordinal);
    }

    [Fact]
    public void A_direct_physical_port_is_bound_to_its_whole_pf()
    {
        var placement = RenderCases.Input("direct-physical").Placement;

        var binding = PortBinding.Of(placement, "wan");

        Assert.Empty(binding.Vfs);
        Assert.Equal(placement.Pfs.Single().Pf, binding.Pf);
        Assert.Null(binding.HaLegs);
    }
}
