using Isola.Store.Resources;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Api;

/// <summary>Who is calling, from their token.</summary>
public sealed record Caller(TokenRecord Token)
{
    public bool IsAdmin => Token.Role == "admin";

    public bool IsHost => Token.Role == "host";

    /// <summary>The project whose resources the caller sees; null for admins (all).</summary>
    public string? ProjectScope => IsAdmin ? null : Token.ProjectId;

    public void RequireAdmin()
    {
        if (!IsAdmin)
            throw ApiException.Forbidden("this needs an admin token");
    }

    /// <summary>Members and admins use the API; host tokens only their host's agent endpoints.</summary>
    public void RequireUser()
    {
        if (IsHost)
            throw ApiException.Forbidden("a host token may only use its own host's agent endpoints");
    }

    /// <summary>The project id a new resource goes into: the member's own, or for admins the one asked for (by id or name).</summary>
    public async Task<string> ProjectForAsync(ResourceStore store, string? asked)
    {
        if (!IsAdmin)
            return Token.ProjectId ?? throw ApiException.Forbidden("the token has no project");
        if (asked is null)
            throw ApiException.Invalid("project", "an admin must say which project the resource is for");
        return (await store.Projects.FindAsync(asked))?.Id ?? throw ApiException.Invalid("project", $"no project '{asked}'");
    }

    /// <summary>A host's agent endpoints: that host's token, or an admin.</summary>
    public void RequireAgentOf(string host)
    {
        if (IsAdmin || (IsHost && Token.Host == host))
            return;
        throw IsHost ? ApiException.Forbidden($"this host token is for {Token.Host}") : ApiException.Forbidden("this needs an admin or the host's token");
    }

    /// <summary>
    /// Refuses (401) a caller whose token was deleted since its request was let in: a request that
    /// waited (a long poll) asks before it answers, so a revoked token gets nothing after its revocation.
    /// </summary>
    public async Task RequireStillValidAsync(ResourceStore store)
    {
        if (await store.Tokens.FindAsync(Token.Id) is null)
            throw ApiException.Unauthorized();
    }

    public bool Sees(string projectId) => IsAdmin || Token.ProjectId == projectId;

    public static Caller Of(HttpContext context) => (Caller)context.Items[nameof(Caller)]!;
}
