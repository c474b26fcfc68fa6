using System.Globalization;
using System.Text.Json;
using Isola.Host.Commands;
using Isola.Rendering.Flows;

namespace Isola.Agent.Driver;

/// <summary>An OVS interface as OVSDB has it.</summary>
public sealed record OvsInterface(string Name, int Ofport, string Type, IReadOnlyDictionary<string, string> Options);

/// <summary>What Open vSwitch holds: whether it answers at all, its bridges, the ports of each, every interface, the integration bridge's meters.</summary>
public sealed record OvsActual(bool Present, IReadOnlySet<string> Bridges, IReadOnlyDictionary<string, IReadOnlyList<string>> BridgePorts,
    IReadOnlyDictionary<string, OvsInterface> Interfaces, IReadOnlyList<Meter> Meters)
{
    public static OvsActual Absent { get; } = new(false, new HashSet<string>(), new Dictionary<string, IReadOnlyList<string>>(), new Dictionary<string, OvsInterface>(), []);

    /// <summary>OpenFlow port numbers by interface name (interfaces OVS could not attach have none).</summary>
    public IReadOnlyDictionary<string, int> Ofports => Interfaces.Values.Where(i => i.Ofport > 0).ToDictionary(i => i.Name, i => i.Ofport, StringComparer.Ordinal);
}

/// <summary>
/// The agent's hands on Open vSwitch: <c>ovs-vsctl</c> for bridges and ports, <c>ovs-ofctl</c>
/// (OpenFlow 1.3) for flows and meters. Flow tables are written to a file under the agent's state
/// directory and replaced as a whole in one bundle (atomic: a packet sees the old table or the new);
/// <c>diff-flows</c> compares what the bridge holds with that file, OVS normalising both sides.
/// </summary>
public sealed class OvsDriver(ICommandRunner runner, string stateDirectory, string? datapathType = null)
{
    /// <summary>Where the driver keeps the tables it wrote (<c>ovs/</c>).</summary>
    public string StateDirectory => stateDirectory;

    private static readonly string[] Vsctl = ["ovs-vsctl", "--timeout=10"];
    private static readonly string[] Ofctl = ["ovs-ofctl", "-O", "OpenFlow13"];

    /// <summary>What OVS holds; <see cref="OvsActual.Absent"/> when ovs-vsctl is not installed or its database does not answer.</summary>
    public async Task<OvsActual> ReadAsync(string integrationBridge, IEnumerable<string> bridgesOfInterest, CancellationToken ct = default)
    {
        if (await BridgesAsync(ct) is not { } bridges)
            return OvsActual.Absent;
        var ports = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var bridge in bridgesOfInterest.Append(integrationBridge).Distinct(StringComparer.Ordinal).Where(bridges.Contains))
            ports[bridge] = (await RunAsync([.. Vsctl, "list-ports", bridge], ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var interfaces = ParseInterfaces(await RunAsync([.. Vsctl, "--format=json", "--columns=name,ofport,type,options", "list", "Interface"], ct));
        var meters = bridges.Contains(integrationBridge) ? ParseMeters(await RunAsync([.. Ofctl, "dump-meters", integrationBridge], ct)) : [];
        return new OvsActual(true, bridges, ports, interfaces, meters);
    }

    /// <summary>The bridges (<c>ovs-vsctl list-br</c>); null when ovs-vsctl is not installed or its database does not answer.</summary>
    public async Task<IReadOnlySet<string>?> BridgesAsync(CancellationToken ct = default)
    {
        var listBr = await runner.RunAsync([.. Vsctl, "list-br"], ct);
        return listBr.Succeeded
            ? listBr.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal)
            : null;
    }

    /// <summary>Creates the integration bridge if missing: OpenFlow 1.0 and 1.3, fail mode secure (no NORMAL switching while its flows are not there).</summary>
    public Task EnsureBridgeAsync(string bridge, CancellationToken ct = default) =>
        RunAsync([.. Vsctl, "--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge, "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13",
            .. datapathType is null ? Array.Empty<string>() : [$"datapath_type={datapathType}"]], ct);

    /// <summary>A tunnel port to a peer; its key comes from each flow (<c>set_field:KEY->tun_id</c>).</summary>
    public Task AddTunnelAsync(string bridge, TunnelPort tunnel, CancellationToken ct = default) =>
        RunAsync([.. Vsctl, "--may-exist", "add-port", bridge, tunnel.Name, "--", "set", "Interface", tunnel.Name, $"type={tunnel.Type}",
            $"options:remote_ip={tunnel.RemoteIp}", $"options:local_ip={tunnel.LocalIp}", "options:key=flow"], ct);

    /// <summary>Both ends of the patch between the integration bridge and a physical network's bridge.</summary>
    public Task AddPatchAsync(string bridge, PatchPair patch, CancellationToken ct = default) =>
        RunAsync([.. Vsctl,
            "--may-exist", "add-port", bridge, patch.IntegrationPort, "--", "set", "Interface", patch.IntegrationPort, "type=patch", $"options:peer={patch.PhysicalPort}", "--",
            "--may-exist", "add-port", patch.PhysicalBridge, patch.PhysicalPort, "--", "set", "Interface", patch.PhysicalPort, "type=patch", $"options:peer={patch.IntegrationPort}"], ct);

    public Task DeletePortAsync(string bridge, string port, CancellationToken ct = default) =>
        RunAsync([.. Vsctl, "--if-exists", "del-port", bridge, port], ct);

    /// <summary>True when the bridge's flow table is exactly <paramref name="flows"/> (<c>diff-flows</c>: exit 0 same, 2 different).</summary>
    public async Task<bool> FlowsInSyncAsync(string bridge, IReadOnlyList<string> flows, CancellationToken ct = default)
    {
        var file = WriteFlows(bridge, flows, "check");
        string[] argv = [.. Ofctl, "diff-flows", bridge, file];
        var result = await runner.RunAsync(argv, ct);
        return result.ExitCode switch
        {
            0 => true,
            2 => false,
            _ => throw new DriverException(result.Describe(argv)),
        };
    }

    /// <summary>Replaces the bridge's whole flow table in one bundle: flows not in the file go, in the same transaction.</summary>
    public async Task ReplaceFlowsAsync(string bridge, IReadOnlyList<string> flows, CancellationToken ct = default)
    {
        // Written as "next" and kept as "flows" (what the bridge holds) only once the bridge took it.
        var next = WriteFlows(bridge, flows, "next");
        await RunAsync([.. Ofctl, "--bundle", "replace-flows", bridge, next], ct);
        File.Move(next, Path.Join(stateDirectory, "ovs", bridge + ".flows"), overwrite: true);
    }

    /// <summary>The cookie of the table last written to the bridge by this agent (kept in its state directory); null when none.</summary>
    public ulong? LastCookie(string bridge)
    {
        var file = Path.Join(stateDirectory, "ovs", bridge + ".flows");
        var first = File.Exists(file) ? File.ReadLines(file).FirstOrDefault() : null;
        return first is not null && first.StartsWith("cookie=0x", StringComparison.Ordinal)
               && ulong.TryParse(first["cookie=0x".Length..first.IndexOf(',', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var c)
            ? c : null;
    }

    /// <summary>The connections conntrack holds in a zone (<c>ovs-appctl dpctl/dump-conntrack zone=N</c>), as their original-direction tuples.</summary>
    public async Task<IReadOnlyList<ConntrackEntry>> ConnectionsAsync(int zone, CancellationToken ct = default)
    {
        var text = await RunAsync(["ovs-appctl", "dpctl/dump-conntrack", $"zone={zone.ToString(CultureInfo.InvariantCulture)}"], ct);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ConntrackEntry.Parse).OfType<ConntrackEntry>().ToList();
    }

    /// <summary>Forgets one connection (<c>ovs-appctl dpctl/flush-conntrack zone=N TUPLE</c>: the whole original tuple, as OVS 3.1 needs).</summary>
    public Task ForgetConnectionAsync(int zone, ConntrackEntry entry, CancellationToken ct = default) =>
        RunAsync(["ovs-appctl", "dpctl/flush-conntrack", $"zone={zone.ToString(CultureInfo.InvariantCulture)}", entry.Tuple], ct);

    public Task AddMeterAsync(string bridge, Meter meter, CancellationToken ct = default) => RunAsync([.. Ofctl, "add-meter", bridge, meter.Spec], ct);

    public Task ModifyMeterAsync(string bridge, Meter meter, CancellationToken ct = default) => RunAsync([.. Ofctl, "mod-meter", bridge, meter.Spec], ct);

    public Task DeleteMeterAsync(string bridge, int id, CancellationToken ct = default) =>
        RunAsync([.. Ofctl, "del-meter", bridge, $"meter={id.ToString(CultureInfo.InvariantCulture)}"], ct);

    private string WriteFlows(string bridge, IReadOnlyList<string> flows, string kind)
    {
        var dir = Path.Join(stateDirectory, "ovs");
        Directory.CreateDirectory(dir);
        var file = Path.Join(dir, $"{bridge}.{kind}");
        File.WriteAllText(file + ".tmp", string.Concat(flows.Select(f => f + "\n")));
        File.Move(file + ".tmp", file, overwrite: true);
        return file;
    }

    /// <summary>
    /// <c>ovs-vsctl --format=json list Interface</c>: {"headings":[...],"data":[["name",ofport,"type",["map",[["k","v"]]]],...]};
    /// an interface OVS could not attach has ofport -1 or ["set",[]].
    /// </summary>
    public static IReadOnlyDictionary<string, OvsInterface> ParseInterfaces(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var headings = doc.RootElement.GetProperty("headings").EnumerateArray().Select(h => h.GetString()).ToList();
            int Column(string name) => headings.IndexOf(name) is var i and >= 0 ? i : throw new FormatException($"no column {name}");
            var (name, ofport, type, options) = (Column("name"), Column("ofport"), Column("type"), Column("options"));
            var result = new Dictionary<string, OvsInterface>(StringComparer.Ordinal);
            foreach (var row in doc.RootElement.GetProperty("data").EnumerateArray())
            {
                var cells = row.EnumerateArray().ToList();
                var number = cells[ofport].ValueKind == JsonValueKind.Number ? cells[ofport].GetInt32() : -1;
                var map = new Dictionary<string, string>(StringComparer.Ordinal);
                if (cells[options].ValueKind == JsonValueKind.Array && cells[options][0].GetString() == "map")
                    foreach (var pair in cells[options][1].EnumerateArray())
                        map[pair[0].GetString()!] = pair[1].GetString()!;
                var n = cells[name].GetString()!;
                result[n] = new OvsInterface(n, number, cells[type].GetString() ?? "", map);
            }
            return result;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new DriverException($"`ovs-vsctl list Interface` printed something that is not its JSON: {e.Message}");
        }
    }

    /// <summary><c>dump-meters</c>: "meter=3 kbps burst bands=" then "type=drop rate=1000 burst_size=800".</summary>
    public static IReadOnlyList<Meter> ParseMeters(string text)
    {
        var meters = new List<Meter>();
        int? id = null;
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
            if (fields.TryGetValue("meter", out var m) && int.TryParse(m, CultureInfo.InvariantCulture, out var parsed))
                id = parsed;
            else if (id is not null && fields.TryGetValue("rate", out var rate) && long.TryParse(rate, CultureInfo.InvariantCulture, out var kbps))
            {
                var burst = fields.TryGetValue("burst_size", out var b) && long.TryParse(b, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
                meters.Add(new Meter(id.Value, kbps, burst));
                id = null;
            }
        }
        return meters;
    }

    private async Task<string> RunAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        var result = await runner.RunAsync(argv, ct);
        if (!result.Succeeded)
            throw new DriverException(result.Describe(argv));
        return result.StandardOutput;
    }
}
