using System.Text.Json;
using Isola.Server.Supervision;
using Isola.Server.Services;
using Isola.Tests.Store;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server;

/// <summary>/v1/tokens: listed without secrets, scoped to who asks, revoked at once; the last admin token stays. Run on SQLite and PostgreSQL.</summary>
public abstract class TokenSuite
{
    protected abstract Task<string> NewStoreAsync();

    private async Task<ApiWorld> Start() => await ApiWorld.StartAsync(await NewStoreAsync());

    private static IEnumerable<string> Ids(JsonElement list) => list.EnumerateArray().Select(t => t.Str("id"));

    [Fact]
    public async Task Tokens_are_listed_without_secrets_to_admins_all_and_to_members_their_projects()
    {
        await using var w = await Start();
        var (_, made) = await w.Admin.Post("/v1/tokens", new { role = "member", project = "tenant-a" });
        var (_, host) = await w.Admin.Post("/v1/tokens", new { role = "host", host = "h1" });

        var (status, all) = await w.Admin.Get("/v1/tokens");
        Assert.Equal(200, status);
        // The admin token, two members of tenant-a, one of tenant-b, the host token.
        Assert.Equal(5, all.GetArrayLength());
        Assert.Equal(["admin", "member", "member", "member", "host"], all.EnumerateArray().Select(t => t.Str("role")));
        var raw = all.GetRawText();
        foreach (var secret in new[] { w.Server.AdminSecret!, made.Str("secret"), host.Str("secret") })
        {
            Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
            Assert.DoesNotContain(Isola.Store.Resources.TokenStore.Hash(secret), raw, StringComparison.Ordinal);
        }
        Assert.All(all.EnumerateArray(), t => Assert.Equal(["id", "role", "project", "host", "created"], t.EnumerateObject().Select(p => p.Name)));
        Assert.Equal("h1", all.EnumerateArray().Single(t => t.Str("role") == "host").Str("host"));
        Assert.True(DateTimeOffset.TryParse(all[0].Str("created"), System.Globalization.CultureInfo.InvariantCulture, out _));

        var projectA = made.Str("project");
        var (_, mine) = await w.Member.Get("/v1/tokens");
        Assert.Equal(2, mine.GetArrayLength());
        Assert.All(mine.EnumerateArray(), t => Assert.Equal(("member", projectA), (t.Str("role"), t.Str("project"))));
        var (_, theirs) = await w.Other.Get("/v1/tokens");
        Assert.Single(theirs.EnumerateArray());
        Assert.Empty(Ids(mine).Intersect(Ids(theirs)));
        Assert.Equal(403, (await w.Server.Client(host.Str("secret")).Get("/v1/tokens")).Status);
    }

    [Fact]
    public async Task A_deleted_token_is_refused_at_once_and_members_delete_only_their_projects()
    {
        await using var w = await Start();
        var (_, extra) = await w.Admin.Post("/v1/tokens", new { role = "member", project = "tenant-a" });
        var extraClient = w.Server.Client(extra.Str("secret"));
        Assert.Equal(200, (await extraClient.Get("/v1/networks")).Status);
        var adminId = Ids((await w.Admin.Get("/v1/tokens")).Body).First();
        var otherId = Ids((await w.Other.Get("/v1/tokens")).Body).Single();

        // Another project's token, and the admin's, are not there for a member.
        Assert.Equal((404, "not-found"), await Status(w.Member.Delete($"/v1/tokens/{otherId}")));
        Assert.Equal((404, "not-found"), await Status(w.Member.Delete($"/v1/tokens/{adminId}")));
        Assert.Equal(200, (await w.Other.Get("/v1/networks")).Status);

        Assert.Equal(204, (await w.Member.Delete($"/v1/tokens/{extra.Str("id")}")).Status);
        Assert.Equal((401, "unauthorized"), await Status(extraClient.Get("/v1/networks")));
        Assert.Equal((404, "not-found"), await Status(w.Admin.Delete($"/v1/tokens/{extra.Str("id")}")));
        Assert.Equal((404, "not-found"), await Status(w.Admin.Delete("/v1/tokens/no-such-token")));
        Assert.DoesNotContain(extra.Str("id"), Ids((await w.Admin.Get("/v1/tokens")).Body));

        // An admin deletes any token; the member's own deletion of itself works too.
        Assert.Equal(204, (await w.Admin.Delete($"/v1/tokens/{otherId}")).Status);
        Assert.Equal(401, (await w.Other.Get("/v1/networks")).Status);
        Assert.Equal(200, (await w.Member.Get("/v1/networks")).Status);
    }

    [Fact]
    public async Task A_long_poll_whose_token_is_deleted_while_it_waits_answers_401()
    {
        await using var w = await Start();
        var (_, made) = await w.Admin.Post("/v1/tokens", new { role = "host", host = "h1" });
        var agent = w.Server.Client(made.Str("secret"));
        var revision = (await agent.Get("/v1/hosts/h1/desired")).Body.GetProperty("revision").GetInt64();
        var signals = w.Server.App.Services.GetRequiredService<HostSignals>();
        var looks = signals.Taken("h1");
        var poll = agent.Get($"/v1/hosts/h1/desired?after={revision}&wait=60");
        // Let in and waiting: it has taken the host's signal (and takes it again at each look).
        await Eventually.UntilAsync(() => signals.Taken("h1") > looks || poll.IsCompleted, "the poll waiting");
        if (poll.IsCompleted)
            Assert.Fail($"the poll answered before any change: {(await poll).Status}");

        Assert.Equal(204, (await w.Admin.Delete($"/v1/tokens/{made.Str("id")}")).Status);
        // A change on its host ends the wait: the answer is the revocation's, not the desired state.
        Assert.Equal(200, (await w.Admin.Send(HttpMethod.Patch, "/v1/hosts/h2", new { enabled = false })).Status);
        var (created, server) = await w.Member.Post("/v1/servers", new { name = "vm1", flavor = "nfv.small" });
        Assert.Equal((201, "h1"), (created, server.Str("host")));
        var (answered, body) = await poll;
        Assert.True(answered == 401, $"{answered}: {body}");
        Assert.Equal("unauthorized", body.ErrorCode());
    }

    [Fact]
    public async Task The_last_admin_token_is_not_deleted()
    {
        await using var w = await Start();
        var firstId = Ids((await w.Admin.Get("/v1/tokens")).Body).First();
        var (status, error) = await w.Admin.Delete($"/v1/tokens/{firstId}");
        Assert.Equal((409, "last-admin-token"), (status, error.ErrorCode()));
        Assert.Contains("reset-admin", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Equal(200, (await w.Admin.Get("/v1/tokens")).Status);

        var (_, second) = await w.Admin.Post("/v1/tokens", new { role = "admin" });
        var admin2 = w.Server.Client(second.Str("secret"));
        Assert.Equal(204, (await w.Admin.Delete($"/v1/tokens/{firstId}")).Status);
        Assert.Equal(401, (await w.Admin.Get("/v1/tokens")).Status);
        Assert.Equal((409, "last-admin-token"), await Status(admin2.Delete($"/v1/tokens/{second.Str("id")}")));

        // The last two admin tokens deleted at once (each by itself): one goes, one stays.
        var (keeperId, keeper) = (second.Str("id"), admin2);
        for (var round = 0; round < 20; round++)
        {
            var (_, fresh) = await keeper.Post("/v1/tokens", new { role = "admin" });
            var freshClient = w.Server.Client(fresh.Str("secret"));
            var results = await Task.WhenAll(keeper.Delete($"/v1/tokens/{keeperId}"), freshClient.Delete($"/v1/tokens/{fresh.Str("id")}"));
            Assert.Equal([204, 409], results.Select(r => r.Status).Order());
            if (results[0].Status == 204)
                (keeperId, keeper) = (fresh.Str("id"), freshClient);
            var (_, tokens) = await keeper.Get("/v1/tokens");
            Assert.Equal([keeperId], tokens.EnumerateArray().Where(t => t.Str("role") == "admin").Select(t => t.Str("id")));
        }
    }

    private static async Task<(int, string)> Status(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        return (status, body.ErrorCode());
    }
}

public sealed class SqliteTokenTests : TokenSuite, IDisposable
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
public sealed class PostgresTokenTests(PostgresServer server) : TokenSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
