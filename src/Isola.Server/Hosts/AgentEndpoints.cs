using Isola.Contracts.Agent;
using Isola.Coordination;
using Isola.Server.Api;
using Isola.Server.Images;
using Isola.Server.Servers;
using Isola.Server.Supervision;
using Isola.Server.Services;
using Isola.Store;
using Isola.Store.Lifecycle;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Hosts;

/// <summary>
/// The agents' side: <c>GET /v1/hosts/{name}/desired</c> (long poll: <c>?after=REVISION&amp;wait=SECONDS</c>
/// answers when the host's revision passes <c>after</c>, or when the wait is over) and
/// <c>POST /v1/hosts/{name}/report</c>. Only the host's own token (or an admin) may call them. What
/// goes over the wire is <see cref="Isola.Contracts.Agent"/>'s records, the same the agent reads and writes.
/// </summary>
internal static class AgentEndpoints
{
    /// <summary>
    /// A server's plan, or why it cannot be made (<see cref="PlanFailures"/>): a server in BUILD then goes
    /// to ERROR and is released (<see cref="Released"/>: it is no longer on the host); any other keeps
    /// what it holds and is sent without a plan, so its agent leaves it as it is.
    /// </summary>
    internal sealed record PlanOutcome(Isola.Rendering.HostPlan? Plan, string? Error = null, bool Released = false);

    private static async Task<PlanOutcome> PlanOrFailAsync(AssignedServerRow s, HostDesired desired, PlanCache planCache, PlacementStore placements,
        PlanFailures failures)
    {
        var host = desired.Host;
        try
        {
            return new(await planCache.PlanAsync(s.Id, host, PlanStamp(desired, s), desired.InventoryStamp, s.Placement, s.Spec!,
                async () => (await placements.HostAsync(host))?.Inventory ?? throw new InvalidOperationException($"host {host} has no inventory")));
        }
        catch (Exception e) when (e is Isola.Rendering.RenderException or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return new(null, e.Message, await failures.FailAsync(s.Id, s.Name, host, s.Status, e.Message));
        }
    }

    /// <summary>The desired state as the agent reads it, from the store's rows, the host's network state and the plans made (none: plans=omit).</summary>
    internal static DesiredHost DesiredOf(HostDesired desired, Isola.Rendering.Flows.HostNetworkState network, IReadOnlyDictionary<string, PlanOutcome> rendered)
    {
        var ports = desired.Ports.ToLookup(p => p.ServerId);
        // Every server that holds resources; one whose plan could not be made in BUILD went to ERROR just now and gave them back.
        return new DesiredHost(desired.Host, desired.Revision, desired.AppliedRevision,
            desired.Servers.Where(s => rendered.GetValueOrDefault(s.Id) is not { Released: true }).Select(s => new DesiredServer(s.Id, s.Name, s.ProjectId,
                s.Status, s.TaskState, s.PowerState, s.VmState, ports[s.Id].Select(p => new DesiredPort(p.Id, p.Name, p.Mac, p.Status)).ToList(),
                // A plan is a function of the server's placement and spec (which change only with its plan version) and the host's inventory.
                PlanStamp: s.Spec is null ? null : PlanStamp(desired, s), Plan: rendered.GetValueOrDefault(s.Id)?.Plan,
                // Why there is no plan (the agent leaves the server as it is); null with plans=omit (the plans call says).
                PlanError: rendered.GetValueOrDefault(s.Id)?.Error,
                Shutdown: s.CleanShutdown ? DesiredServer.CleanShutdown : DesiredServer.HardShutdown,
                Migration: s.Move is { } m ? new DesiredMigration(m.MigrationId, m.Source ? DesiredMigration.Source : DesiredMigration.Destination, m.DiskSent) : null)).ToList(),
            network);
    }

    /// <summary>What a server's plan is made from besides its rows: the host's inventory (by when it was registered) and the server's plan version.</summary>
    internal static string PlanStamp(HostDesired desired, AssignedServerRow s) =>
        s.PlanVersion == 0 ? desired.InventoryStamp : $"{desired.InventoryStamp}+v{s.PlanVersion}";

    private const int MaxWaitSeconds = 60;

    /// <summary>The most of a console log an agent sends (its last 64 KiB; a little more for a line cut in a character).</summary>
    private const int ConsoleLogBytes = (64 << 10) + 16;

    /// <summary>A text body of at most <paramref name="max"/> bytes (413 past it, never read further), UTF-8.</summary>
    private static async Task<string> ReadTextAsync(HttpRequest request, int max)
    {
        if (request.ContentLength > max)
            throw new ApiException(413, "too-large", $"the body is {request.ContentLength} bytes; at most {max}", "body");
        using var memory = new MemoryStream();
        var buffer = new byte[16 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0)
        {
            if (memory.Length + read > max)
                throw new ApiException(413, "too-large", $"the body is over {max} bytes", "body");
            memory.Write(buffer, 0, read);
        }
        return System.Text.Encoding.UTF8.GetString(memory.GetBuffer(), 0, (int)memory.Length);
    }
    private const int MaxPlansPerRequest = 100;

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/hosts/{name}/desired", async (string name, long? after, int? wait, string? plans, HttpContext http, LifecycleStore lifecycle,
            PlacementStore placements, HostSignals signals, TimeProvider time, PlanCache planCache, HostNetworkStore networks, PlanFailures failures,
            Isola.Store.Resources.ResourceStore resources, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) =>
        {
            if (plans is not (null or "omit"))
                throw ApiException.Invalid("plans", "omit (each server's planStamp only; GET /v1/hosts/{name}/plans for the plans) or absent (plans inline)");
            Caller.Of(http).RequireAgentOf(name);
            // A poll ends when the agent goes away or the server stops, whichever is first.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
            if (wait is < 0 or > MaxWaitSeconds)
                throw ApiException.Invalid("wait", $"wait is 0-{MaxWaitSeconds} seconds");
            var until = time.GetUtcNow() + TimeSpan.FromSeconds(wait ?? 0);
            var waited = false;
            while (true)
            {
                var changed = signals.Next(name);
                var revision = await lifecycle.RevisionAsync(name) ?? throw ApiException.NotFound("host", name);
                var left = until - time.GetUtcNow();
                if (after is null || revision > after || left <= TimeSpan.Zero || stop.IsCancellationRequested)
                    break;
                // Woken by this process's changes; another process's are seen at the next look (at most a second later).
                await Task.WhenAny(changed, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), time, stop.Token));
                waited = true;
            }
            // Let in up to a minute ago: a token deleted meanwhile gets no desired state (nor plans).
            if (waited)
                await Caller.Of(http).RequireStillValidAsync(resources);
            var desired = (await lifecycle.DesiredAsync(name))!;
            // Read after the revision: a change that lands in between shows up now and again at the next revision.
            var network = HostNetworkView.From((await networks.RowsAsync(name))!);
            planCache.Keep(name, desired.Servers.Select(s => s.Id).ToHashSet(StringComparer.Ordinal));
            var rendered = new Dictionary<string, PlanOutcome>(StringComparer.Ordinal);
            if (plans is null)
            {
                foreach (var s in desired.Servers.Where(s => s.Spec is not null))
                    rendered[s.Id] = await PlanOrFailAsync(s, desired, planCache, placements, failures);
            }
            return Results.Ok(DesiredOf(desired, network, rendered));
        });

        // The plans of some of the host's servers (an agent that polls with plans=omit fetches the ones it lacks).
        api.MapGet("/hosts/{name}/plans", async (string name, HttpContext http, LifecycleStore lifecycle, PlacementStore placements, PlanCache planCache,
            PlanFailures failures) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            var wanted = http.Request.Query["server"].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToHashSet(StringComparer.Ordinal);
            if (wanted.Count == 0)
                throw ApiException.Invalid("server", "name the servers: ?server=ID&server=ID...");
            if (wanted.Count > MaxPlansPerRequest)
                throw ApiException.Invalid("server", $"at most {MaxPlansPerRequest} servers per request");
            var desired = await lifecycle.DesiredAsync(name) ?? throw ApiException.NotFound("host", name);
            var result = new Dictionary<string, ServerPlan>(StringComparer.Ordinal);
            foreach (var s in desired.Servers.Where(s => wanted.Contains(s.Id) && s.Spec is not null))
            {
                var stamp = PlanStamp(desired, s);
                var plan = await PlanOrFailAsync(s, desired, planCache, placements, failures);
                if (!plan.Released)
                    result[s.Id] = new ServerPlan(stamp, plan.Plan, plan.Error);
            }
            // A server not on the host (gone meanwhile, never there, or failed in BUILD just now) is simply not in the answer.
            return Results.Ok(result);
        });

        // The tail of a server's serial console log, from its host's agent (at most 64 KiB of text); served by GET /v1/servers/{id}/console-log.
        api.MapPut("/hosts/{name}/servers/{id}/console-log", async (string name, string id, HttpContext http, ServerConsoleStore consoles) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            var text = await ReadTextAsync(http.Request, ConsoleLogBytes);
            if (!await consoles.PutAsync(name, id, text))
                throw ApiException.NotFound("server on host " + name, id);
            return Results.NoContent();
        }).WithMetadata(new StreamedBody("text/plain"));

        // A resize or migration between hosts: the source's agent sends the server's disk once the domain is shut off
        // (the destination's agent then holds the server, and fetches the disk). Kept by the controller until confirmed or reverted.
        api.MapPut("/hosts/{name}/servers/{id}/disk", async (string name, string id, HttpContext http, ServerMoveStore moves, IImageBlobs blobs, HostSignals signals) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            var open = await moves.OpenAsync(id);
            if (open is null || open.Record.SourceHost != name || open.Record.DestHost == name)
                throw ApiException.NotFound("migration from host " + name + " of server", id);
            if (open.Record.DiskSent)
                return Results.NoContent(); // sent already (an agent that did not hear the answer sends again)
            var max = (long)(Math.Max(open.SourceSpec?.Value.Flavor.DiskGiB ?? 1, 1) * 1.1 + 1) << 30;
            var blob = ServerMoveService.DiskBlob(open.Record.Id);
            StagedBlob staged;
            try
            {
                staged = await blobs.StageAsync(blob, http.Request.Body, max, http.RequestAborted);
            }
            catch (BlobTooLargeException)
            {
                throw new ApiException(413, "too-large", $"the disk is over {max} bytes (its flavor's size and room for qcow2's own)", "body");
            }
            await using (staged)
                await staged.CommitAsync(http.RequestAborted);
            var (taken, dest) = await moves.DiskSentAsync(id, name, staged.Sha256);
            if (!taken)
            {
                // Another send of the same disk got there first (an agent that did not hear the answer): its bytes are kept.
                if (await moves.OpenAsync(id) is { Record.DiskSent: true } now && now.Record.Id == open.Record.Id)
                    return Results.NoContent();
                await blobs.DeleteAsync(blob, default);
                throw ApiException.Conflict("invalid-state", $"the migration of server {id} waits for no disk any more");
            }
            signals.Notify(name);
            signals.Notify(dest!);
            return Results.NoContent();
        }).WithMetadata(new StreamedBody("application/octet-stream"));
        api.MapGet("/hosts/{name}/servers/{id}/disk", async (string name, string id, HttpContext http, ServerMoveStore moves, IImageBlobs blobs) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            var open = await moves.OpenAsync(id);
            if (open is null || open.Record.DestHost != name || open.Record.SourceHost == name || !open.Record.DiskSent)
                throw ApiException.NotFound("migrated disk for host " + name + " of server", id);
            var bytes = await blobs.OpenAsync(ServerMoveService.DiskBlob(open.Record.Id), http.RequestAborted)
                ?? throw ApiException.Conflict("disk-gone", $"the disk of server {id}'s migration is not kept any more");
            http.Response.Headers[Isola.Server.Images.ImageEndpoints.ChecksumHeader] = open.Record.DiskSha256;
            return Results.Stream(bytes, "application/octet-stream");
        });

        api.MapPost("/hosts/{name}/report", async (string name, HostReport body, HttpContext http, LifecycleStore lifecycle, HostSignals signals,
            PlacementService placement, ServerMoveService evacuations) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            // Only a registered host reports, and only a revision it could have been given.
            var revision = await lifecycle.RevisionAsync(name) ?? throw ApiException.NotFound("host", name);
            var errors = new List<FieldError>();
            if (body.AppliedRevision < 0 || body.AppliedRevision > revision)
                errors.Add(new("appliedRevision", $"{body.AppliedRevision} is not within 0-{revision} (the host's revision)"));
            var servers = body.Servers ?? [];
            var ports = body.Ports ?? [];
            for (var i = 0; i < servers.Count; i++)
            {
                if (servers[i] is null)
                {
                    errors.Add(new($"servers[{i}]", "must not be null"));
                    continue;
                }
                if (string.IsNullOrEmpty(servers[i].Id))
                    errors.Add(new($"servers[{i}].id", "a reported server has an id"));
                if (!PowerState.IsReportable(servers[i].VmState))
                    errors.Add(new($"servers[{i}].vmState", "must be paused, running, shutoff or absent"));
                if (servers[i].DiskVersion is < 0)
                    errors.Add(new($"servers[{i}].diskVersion", "a disk version is 0 or more"));
            }
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i] is null)
                {
                    errors.Add(new($"ports[{i}]", "must not be null"));
                    continue;
                }
                if (string.IsNullOrEmpty(ports[i].Id))
                    errors.Add(new($"ports[{i}].id", "a reported port has an id"));
                if (!PortStatus.IsReportable(ports[i].Status))
                    errors.Add(new($"ports[{i}].status", "must be ACTIVE, DOWN or ERROR"));
            }
            if (servers.Where(s => s is not null).GroupBy(s => s.Id).Any(g => g.Count() > 1))
                errors.Add(new("servers", "a server is reported twice"));
            if (ports.Where(p => p is not null).GroupBy(p => p.Id).Any(g => g.Count() > 1))
                errors.Add(new("ports", "a port is reported twice"));
            var leaving = body.Leaving;
            for (var i = 0; i < (leaving?.Count ?? 0); i++)
            {
                if (string.IsNullOrEmpty(leaving![i]))
                    errors.Add(new($"leaving[{i}]", "a server being taken down is named by its id"));
            }
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var report = new AgentReport(body.AppliedRevision, servers.ToDictionary(s => s.Id!, s => s.VmState!, StringComparer.Ordinal),
                ports.ToDictionary(p => p.Id!, p => p.Status!, StringComparer.Ordinal),
                servers.Where(s => s.DiskVersion is not null).ToDictionary(s => s.Id!, s => s.DiskVersion!.Value, StringComparer.Ordinal),
                leaving?.ToHashSet(StringComparer.Ordinal));
            IReadOnlyList<ServerTransition> transitions;
            IReadOnlyList<string> evacuated;
            bool moved, backUp;
            try
            {
                (transitions, moved, backUp, evacuated) = await lifecycle.ApplyReportAsync(name, report);
            }
            catch (ForeignResourceException e)
            {
                throw ApiException.Forbidden(e.Message);
            }
            if (moved)
                signals.Notify(name);
            // Its agent was marked down: schedulable again here at once (other processes at their next sync).
            if (backUp)
                await placement.Placer.RefreshHostAsync(name);
            // Servers evacuated off this host while its agent was down are gone from it now: what they left here is free.
            foreach (var server in evacuated)
                await evacuations.ClearAsync(server, name);
            return Results.Ok(new ReportAnswer(moved,
                transitions.Select(t => new ReportTransition(t.ServerId, t.FromStatus, t.To.Status, t.To.TaskState, t.To.PowerState)).ToList()));
        });
    }
}
