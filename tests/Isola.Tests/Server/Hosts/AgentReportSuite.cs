using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Hosts;

/// <summary>What an agent's report must be to be taken: of a registered host, a revision it was given, no null items. SQLite and PostgreSQL.</summary>
public abstract class AgentReportSuite
{
    protected abstract Task<string> NewStoreAsync();

    [Fact]
    public async Task A_host_never_registered_cannot_report()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        var agent = w.Server.Client((await w.Admin.Post("/v1/tokens", new { role = "host", host = "ghost" })).Body.Str("secret"));
        foreach (var client in new[] { agent, w.Admin })
        {
            var (status, error) = await client.Post("/v1/hosts/ghost/report", new { appliedRevision = 0, servers = Array.Empty<object>(), ports = Array.Empty<object>() });
            Assert.Equal((404, "not-found"), (status, error.ErrorCode()));
        }
        Assert.Equal(404, (await w.Admin.Get("/v1/hosts/ghost")).Status);
    }

    [Theory]
    [InlineData("""{"appliedRevision":-1}""", "appliedRevision")]
    [InlineData("""{"appliedRevision":1}""", "appliedRevision")]
    [InlineData("""{"appliedRevision":0,"servers":[null]}""", "servers[0]")]
    [InlineData("""{"appliedRevision":0,"ports":[null]}""", "ports[0]")]
    [InlineData("""{"appliedRevision":0,"servers":[{"id":"a","vmState":"running"},{"id":"b","vmState":"paused"},null]}""", "servers[2]")]
    public async Task A_bad_report_is_a_400_naming_the_field_and_taken_in_no_part(string report, string field)
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        var agent = w.Server.Client((await w.Admin.Post("/v1/tokens", new { role = "host", host = "h1" })).Body.Str("secret"));
        // h1 holds nothing yet: its revision is 0, so 0 is the only revision it could have applied.
        Assert.Equal(0, (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("revision").GetInt64());
        var (status, error) = await agent.Send(HttpMethod.Post, "/v1/hosts/h1/report", report);
        Assert.Equal((400, "invalid"), (status, error.ErrorCode()));
        Assert.Contains(field, error.GetProperty("error").GetProperty("details").EnumerateArray().Select(d => d.Str("field")));
        // Not even the heartbeat was taken.
        Assert.Equal("never-reported", (await w.Admin.Get("/v1/hosts/h1")).Body.Str("agent"));
        Assert.Equal(200, (await agent.Post("/v1/hosts/h1/report", new { appliedRevision = 0 })).Status);
        Assert.Equal("up", (await w.Admin.Get("/v1/hosts/h1")).Body.Str("agent"));
    }
}

public sealed class SqliteAgentReportTests : AgentReportSuite, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<string> NewStoreAsync() => Task.FromResult(_dir.Sub($"isola-{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAgentReportTests(PostgresServer server) : AgentReportSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
