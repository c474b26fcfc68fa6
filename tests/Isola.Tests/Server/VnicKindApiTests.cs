using Isola.Scheduling.Requests;
using Isola.Tests.Support;

namespace Isola.Tests.Server;

/// <summary>The API's port rule reads the vnic kinds' table: every kind is accepted or refused as its descriptor says.</summary>
public sealed class VnicKindApiTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task Each_kind_is_created_or_refused_naming_vnicType_as_its_descriptor_says()
    {
        await using var w = await ApiWorld.StartAsync(_dir.Sub("isola.db"));
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/networks", new { name = "overlay", type = "vxlan" });
        foreach (var kind in VnicKind.All)
        {
            var (status, body) = await w.Member.Post("/v1/ports", new { name = $"p-{kind.WireName}", network = "lan", vnicType = kind.WireName });
            if (kind.AcceptedAtApi)
                Assert.True(status == 201, $"{kind.WireName}: {status} {body}");
            else
            {
                Assert.Equal((400, "vnicType"), (status, body.ErrorField()));
                Assert.EndsWith(kind.RefusedAtApi!, body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            }
            // The network types the kind allows, the API allows.
            var (onOverlay, overlayBody) = await w.Member.Post("/v1/ports", new { name = $"o-{kind.WireName}", network = "overlay", vnicType = kind.WireName });
            Assert.True((onOverlay == 201) == (kind.AcceptedAtApi && kind.AllowsNetwork("vxlan")), $"{kind.WireName} on vxlan: {onOverlay} {overlayBody}");
        }
        var (_, unknown) = await w.Member.Post("/v1/ports", new { name = "x", network = "lan", vnicType = "sriov" });
        Assert.EndsWith($"must be {VnicKind.Names(VnicKind.All.Where(k => k.AcceptedAtApi))}", unknown.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}
