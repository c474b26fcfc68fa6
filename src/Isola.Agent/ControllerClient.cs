using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Rendering.Boot;

namespace Isola.Agent;

/// <summary>The agent's side of the API: register the inventory, fetch the desired state (long poll), report, fetch images.</summary>
public sealed class ControllerClient(HttpClient http, string host) : IImageSource, IDiskCarrier
{
    /// <summary>How long an image fetch may go without a byte before it is given up (the next cycle fetches it again).</summary>
    public TimeSpan ImageIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public static ControllerClient Create(Uri controller, string token, string host, string? tunnelIp = null, bool planDeltas = true)
    {
        var http = new HttpClient { BaseAddress = controller, Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        // A disk upload takes as long as its bytes do: no overall timeout, the agent's cancellation ends it.
        var bulk = new HttpClient { BaseAddress = controller, Timeout = Timeout.InfiniteTimeSpan };
        bulk.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ControllerClient(http, host) { TunnelIp = tunnelIp, PlanDeltas = planDeltas, Bulk = bulk };
    }

    /// <summary>The client for uploads of whole disks (no overall timeout); null: the one for everything else.</summary>
    public HttpClient? Bulk { get; init; }

    /// <summary>The host's VXLAN/GRE endpoint, sent with the inventory (Neutron's local_ip); null: the host has no tunnels.</summary>
    public string? TunnelIp { get; init; }

    public async Task RegisterAsync(HostTopology inventory, CancellationToken ct)
    {
        using var body = new StringContent(InventoryDocument.Of(inventory).ToJson(), Encoding.UTF8, "application/json");
        var query = TunnelIp is null ? "" : $"?tunnelIp={Uri.EscapeDataString(TunnelIp)}";
        using var response = await http.PutAsync($"/v1/hosts/{Uri.EscapeDataString(host)}{query}", body, ct);
        await Ensure(response, ct);
    }

    private const int PlansPerRequest = 50;
    private readonly Dictionary<string, (string Stamp, HostPlan Plan)> _plans = new(StringComparer.Ordinal);

    /// <summary>Fetch each server's plan once and keep it while its stamp holds (false: every poll carries every plan).</summary>
    public bool PlanDeltas { get; init; } = true;

    /// <summary>Plans fetched by the last <see cref="DesiredAsync"/> (for tests and benchmarks).</summary>
    public int PlansFetched { get; private set; }

    /// <summary>
    /// The desired state; waits up to <paramref name="wait"/> for a revision after <paramref name="after"/>.
    /// With <see cref="PlanDeltas"/>, the poll carries plan stamps only and the plans this client does
    /// not hold yet (new servers, a re-registered inventory) are fetched in a second call. A plan the
    /// controller cannot make comes back as its error, kept for this answer only (asked for again next time).
    /// </summary>
    public async Task<DesiredHost> DesiredAsync(long? after, TimeSpan wait, CancellationToken ct)
    {
        var query = new List<string>();
        if (after is not null)
            query.Add($"after={after}&wait={(int)wait.TotalSeconds}");
        if (PlanDeltas)
            query.Add("plans=omit");
        var path = $"/v1/hosts/{Uri.EscapeDataString(host)}";
        using var response = await http.GetAsync($"{path}/desired{(query.Count > 0 ? "?" + string.Join('&', query) : "")}", ct);
        await Ensure(response, ct);
        var desired = (await response.Content.ReadFromJsonAsync<DesiredHost>(IsolaJson.Options, ct))!;
        if (!PlanDeltas)
            return desired;
        var missing = desired.Servers.Where(s => s.PlanStamp is not null && !(_plans.TryGetValue(s.Id, out var held) && held.Stamp == s.PlanStamp))
            .Select(s => s.Id).ToList();
        PlansFetched = missing.Count;
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in missing.Chunk(PlansPerRequest))
        {
            using var plans = await http.GetAsync($"{path}/plans?{string.Join('&', chunk.Select(id => "server=" + Uri.EscapeDataString(id)))}", ct);
            await Ensure(plans, ct);
            var got = (await plans.Content.ReadFromJsonAsync<Dictionary<string, ServerPlan>>(IsolaJson.Options, ct))!;
            foreach (var (id, fetched) in got)
            {
                if (fetched.Plan is not null)
                    _plans[id] = (fetched.PlanStamp, fetched.Plan);
                else
                    errors[id] = fetched.PlanError ?? "the controller sent no plan";
            }
        }
        var present = desired.Servers.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _plans.Keys.Where(id => !present.Contains(id)).ToList())
            _plans.Remove(gone);
        return desired with
        {
            Servers = desired.Servers.Select(s => s with
            {
                // No stamp: a controller that sends plans inline (and ignores plans=omit).
                Plan = s.PlanStamp is null ? s.Plan : _plans.TryGetValue(s.Id, out var held) && held.Stamp == s.PlanStamp ? held.Plan : null,
                PlanError = s.PlanError ?? errors.GetValueOrDefault(s.Id),
            }).ToList(),
        };
    }

    public async Task ReportAsync(HostReport report, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/report", report, IsolaJson.Options, ct);
        await Ensure(response, ct);
    }

    /// <summary>Sends the tail of a server's serial console log (<c>PUT /v1/hosts/{name}/servers/{id}/console-log</c>, text/plain).</summary>
    public async Task PutConsoleLogAsync(string serverId, string text, CancellationToken ct)
    {
        using var content = new StringContent(text, System.Text.Encoding.UTF8, "text/plain");
        using var response = await http.PutAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/servers/{Uri.EscapeDataString(serverId)}/console-log", content, ct);
        await Ensure(response, ct);
    }

    /// <summary>
    /// Streams an image's bytes (<c>GET /v1/images/{id}/file</c> with the host's token) into
    /// <paramref name="destination"/> as they arrive, never holding the image in memory. A fetch that goes
    /// <see cref="ImageIdleTimeout"/> without a byte ends with a <see cref="TimeoutException"/>; a non-2xx
    /// answer is an <see cref="HttpRequestException"/> with the status and what the controller said. The
    /// caller checks the size and checksum (<see cref="InstanceStorage.FetchImageAsync"/>).
    /// </summary>
    public async Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct) =>
        await DownloadAsync($"/v1/images/{Uri.EscapeDataString(image.Id)}/file", destination, $"image {image.Id}", ct);

    /// <summary>Sends a server's disk to the controller (<c>PUT /v1/hosts/{name}/servers/{id}/disk</c>): a resize or migration to another host.</summary>
    public async Task SendDiskAsync(string serverId, Stream disk, CancellationToken ct)
    {
        using var content = new StreamContent(disk, 1 << 16);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        using var response = await (Bulk ?? http).PutAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/servers/{Uri.EscapeDataString(serverId)}/disk", content, ct);
        await Ensure(response, ct);
    }

    /// <summary>Fetches a server's disk its source host sent (<c>GET /v1/hosts/{name}/servers/{id}/disk</c>) into <paramref name="destination"/>; answers the SHA-256 the controller holds for it.</summary>
    public Task<string?> ReceiveDiskAsync(string serverId, Stream destination, CancellationToken ct) =>
        DownloadAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/servers/{Uri.EscapeDataString(serverId)}/disk", destination, $"the disk of server {serverId}", ct);

    /// <summary>Streams a GET's body into <paramref name="destination"/> (see <see cref="CopyToAsync"/>); answers the checksum header, if any.</summary>
    private async Task<string?> DownloadAsync(string path, Stream destination, string what, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(ImageIdleTimeout);
        try
        {
            // Headers only: the body is read as a stream below (HttpClient's Timeout covers the wait for the headers, not the body).
            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, idle.Token);
            await Ensure(response, idle.Token);
            var checksum = response.Headers.TryGetValues("X-Image-Checksum", out var values) ? values.FirstOrDefault() : null;
            await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer.AsMemory(0, 1 << 16), idle.Token)) > 0)
                {
                    idle.CancelAfter(ImageIdleTimeout);
                    await destination.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
            return checksum;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && idle.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: no bytes from the controller for {ImageIdleTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s");
        }
    }

    private static async Task Ensure(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
            return;
        var text = await response.Content.ReadAsStringAsync(ct);
        var message = text;
        try
        {
            message = JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("message").GetString() ?? text;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
        }
        throw new HttpRequestException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri?.AbsolutePath}: {message}", null, response.StatusCode);
    }
}
