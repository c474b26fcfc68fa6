using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Isola.Agent.Reconcile;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;

namespace Isola.Agent;

/// <summary>The agent's side of the API: register the inventory, fetch the desired state (long poll), report.</summary>
public sealed class ControllerClient(HttpClient http, string host)
{
    public static ControllerClient Create(Uri controller, string token, string host, string? tunnelIp = null)
    {
        var http = new HttpClient { BaseAddress = controller, Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ControllerClient(http, host) { TunnelIp = tunnelIp };
    }

    /// <summary>The host's VXLAN/GRE endpoint, sent with the inventory (Neutron's local_ip); null: the host has no tunnels.</summary>
    public string? TunnelIp { get; init; }

    public async Task RegisterAsync(HostTopology inventory, CancellationToken ct)
    {
        using var body = new StringContent(InventoryDocument.Of(inventory).ToJson(), Encoding.UTF8, "application/json");
        var query = TunnelIp is null ? "" : $"?tunnelIp={Uri.EscapeDataString(TunnelIp)}";
        using var response = await http.PutAsync($"/v1/hosts/{Uri.EscapeDataString(host)}{query}", body, ct);
        await Ensure(response, ct);
    }

    /// <summary>The desired state; waits up to <paramref name="wait"/> for a revision after <paramref name="after"/>.</summary>
    public async Task<DesiredHost> DesiredAsync(long? after, TimeSpan wait, CancellationToken ct)
    {
        var query = after is null ? "" : $"?after={after}&wait={(int)wait.TotalSeconds}";
        using var response = await http.GetAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/desired{query}", ct);
        await Ensure(response, ct);
        return (await response.Content.ReadFromJsonAsync<DesiredHost>(IsolaJson.Options, ct))!;
    }

    public async Task ReportAsync(AgentReportBody report, CancellationToken ct)
    {
        var body = new
        {
            appliedRevision = report.AppliedRevision,
            servers = report.Servers.Select(s => new { id = s.Id, vmState = s.VmState }),
            ports = report.Ports.Select(p => new { id = p.Id, status = p.Status }),
        };
        using var response = await http.PostAsJsonAsync($"/v1/hosts/{Uri.EscapeDataString(host)}/report", body, IsolaJson.Options, ct);
        await Ensure(response, ct);
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
