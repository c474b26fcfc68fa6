using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;

namespace Isola.Tests.Server;

/// <summary>The world the HTTP suites start from.</summary>
public sealed record ApiWorld(ApiServer Server, HttpClient Admin, HttpClient Member, HttpClient Other, string Project) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Server.DisposeAsync();


    /// <summary>A server with two projects (tenant-a as Member, tenant-b as Other), two registered hosts and the nfv.small flavor.</summary>
    public static async Task<ApiWorld> StartAsync(string store, TimeProvider? time = null, int buildTimeoutSeconds = 300,
        Func<Isola.Server.Settings.ServerSettings, Isola.Server.Settings.ServerSettings>? configure = null)
    {
        var server = await ApiServer.StartAsync(store, time: time, buildTimeoutSeconds: buildTimeoutSeconds, configure: configure);
        try
        {
            return await PopulateAsync(server);
        }
        catch
        {
            await server.DisposeAsync(); // a failed setup leaves no server running over the test's store
            throw;
        }
    }

    private static async Task<ApiWorld> PopulateAsync(ApiServer server)
    {
        Assert.StartsWith("isola_", server.AdminSecret, StringComparison.Ordinal);
        var admin = server.Client(server.AdminSecret);
        async Task<HttpClient> Member(string project)
        {
            Assert.Equal(201, (await admin.Post("/v1/projects", new { name = project })).Status);
            var (_, token) = await admin.Post("/v1/tokens", new { role = "member", project });
            return server.Client(token.Str("secret"));
        }
        var member = await Member("tenant-a");
        var other = await Member("tenant-b");
        // Two 16-CPU hosts with an X710 each, registered the way an agent does.
        foreach (var name in new[] { "h1", "h2" })
        {
            var host = new HostBuilder(name).Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4, ports: 2, model: "intel-x710").Build();
            var (status, _) = await admin.Send(HttpMethod.Put, $"/v1/hosts/{name}?zone=az1", InventoryDocument.Of(host).ToJson());
            Assert.Equal(204, status);
        }
        Assert.Equal(201, (await admin.Post("/v1/flavors", new
        {
            name = "nfv.small", vcpus = 2, ram = 2048, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB", ["hw:pci_numa_affinity_policy"] = "required" },
        })).Status);
        return new ApiWorld(server, admin, member, other, "tenant-a");
    }
}
