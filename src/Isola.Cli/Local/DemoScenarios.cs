using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Isola.Domain.Serialization;

namespace Isola.Cli.Local;

/// <summary>One step of a scenario and what came of it.</summary>
public sealed record DemoStep(string Scenario, string Action, bool Ok, string Result);

/// <summary>
/// The two scenarios of the source documents, through the API as a tenant would run them: a game
/// server with an SR-IOV port on a VLAN and a virtio port on an internal VXLAN network; an NFV VM with
/// an HA bond, dedicated CPUs, an isolated emulator thread, 1 GB pages and steered IRQs. Each server is
/// created, waited for until ACTIVE (its host's agent defines it paused, programs the VFs, reports the
/// ports, resumes it), shown, and deleted again.
/// </summary>
public sealed class DemoScenarios(HttpClient api, TimeSpan? activeTimeout = null)
{
    private readonly TimeSpan _timeout = activeTimeout ?? TimeSpan.FromSeconds(60);

    public async IAsyncEnumerable<DemoStep> RunAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        const string game = "game server";
        yield return await Step(game, "port game-ext: direct (SR-IOV VF) on ext, VLAN 100", () => Post("/v1/ports", new { name = "game-ext", network = "ext", vnicType = "direct", project = "demo" }, ct),
            b => $"MAC {b.GetProperty("mac").GetString()}");
        yield return await Step(game, "port game-int: normal (virtio) on internal, VXLAN", () => Post("/v1/ports", new { name = "game-int", network = "internal", project = "demo" }, ct),
            b => $"MAC {b.GetProperty("mac").GetString()}");
        await foreach (var step in Lifecycle(game, "game1", "game.small", ["game-ext", "game-int"], ct))
            yield return step;

        const string nfv = "NFV VM";
        yield return await Step(nfv, "port vnf-bond: direct, HA (two VFs on two PFs, one MAC)", () => Post("/v1/ports", new { name = "vnf-bond", network = "ext", vnicType = "direct", ha = true, project = "demo" }, ct),
            b => $"MAC {b.GetProperty("mac").GetString()}");
        await foreach (var step in Lifecycle(nfv, "vnf1", "nfv.medium", ["vnf-bond"], ct))
            yield return step;
    }

    private async IAsyncEnumerable<DemoStep> Lifecycle(string scenario, string name, string flavor, string[] ports, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string? id = null;
        var create = await Step(scenario, $"server create --flavor {flavor} {string.Join(" ", ports.Select(p => "--port " + p))} {name}",
            () => Post("/v1/servers", new { name, flavor, ports, project = "demo" }, ct), b =>
            {
                id = b.GetProperty("id").GetString();
                var p = b.GetProperty("placement");
                var pins = p.GetProperty("cells").EnumerateArray().SelectMany(c => c.GetProperty("pins").EnumerateArray().Select(x => x.GetProperty("pcpu").GetInt32())).ToList();
                var vfs = p.GetProperty("vfs").EnumerateArray().Select(v => $"{v.GetProperty("pf").GetString()} vf {v.GetProperty("vfIndex").GetInt32()}").ToList();
                return $"{b.GetProperty("status").GetString()} on {b.GetProperty("host").GetString()}; pCPUs {string.Join(",", pins)}; VFs {(vfs.Count == 0 ? "none" : string.Join(", ", vfs))}";
            });
        yield return create;
        if (id is null)
            yield break;
        var clock = Stopwatch.StartNew();
        string status = "BUILD";
        JsonElement server = default;
        while (clock.Elapsed < _timeout && status == "BUILD")
        {
            await Task.Delay(100, ct);
            (_, server) = await Get($"/v1/servers/{id}", ct);
            status = server.GetProperty("status").GetString()!;
        }
        yield return new DemoStep(scenario, "wait until ACTIVE (agent: define paused, program VFs, ports ACTIVE, resume)", status == "ACTIVE",
            status == "ACTIVE" ? $"ACTIVE after {clock.Elapsed.TotalSeconds:0.0} s" : $"{status} after {clock.Elapsed.TotalSeconds:0.0} s: {Fault(server)}");
        yield return await Step(scenario, $"server plan {name}", () => Get($"/v1/servers/{id}/plan", ct), b =>
        {
            var vfs = b.GetProperty("vfs").EnumerateArray().Select(v => v.GetProperty("desired")).Select(d => $"vlan {d.GetProperty("vlan").GetInt32()} mac {d.GetProperty("mac").GetString()}").Distinct();
            return $"domain {b.GetProperty("domainXml").GetString()!.Split("<name>")[1].Split("</name>")[0]}; VFs: {string.Join("; ", vfs)}";
        });
        yield return await Step(scenario, $"server delete {name}", async () => ((int)(await api.DeleteAsync($"/v1/servers/{id}", ct)).StatusCode, default), _ => "deleted; the agent resets its VFs and undefines the domain");
        foreach (var port in ports)
            await api.DeleteAsync($"/v1/ports/{port}", ct);
    }

    private static string Fault(JsonElement server) =>
        server.ValueKind == JsonValueKind.Object && server.TryGetProperty("fault", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "still building";

    private static async Task<DemoStep> Step(string scenario, string action, Func<Task<(int Status, JsonElement Body)>> call, Func<JsonElement, string> describe)
    {
        var (status, body) = await call();
        if (status is >= 200 and < 300)
            return new DemoStep(scenario, action, true, describe(body));
        var message = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var e) ? e.GetProperty("message").GetString() : $"HTTP {status}";
        return new DemoStep(scenario, action, false, message ?? $"HTTP {status}");
    }

    private async Task<(int, JsonElement)> Post(string path, object body, CancellationToken ct)
    {
        using var response = await api.PostAsJsonAsync(path, body, IsolaJson.Options, ct);
        return await Read(response, ct);
    }

    private async Task<(int, JsonElement)> Get(string path, CancellationToken ct)
    {
        using var response = await api.GetAsync(path, ct);
        return await Read(response, ct);
    }

    private static async Task<(int, JsonElement)> Read(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
