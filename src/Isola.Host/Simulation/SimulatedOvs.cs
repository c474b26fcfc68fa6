using System.Globalization;
using System.Text.Json;
using Isola.Host.Commands;

namespace Isola.Host.Simulation;

/// <summary>
/// An Open vSwitch that is not there: bridges with ports, interfaces with OpenFlow numbers, types
/// and options, each bridge's flow table and meters — answering the <c>ovs-vsctl</c> and
/// <c>ovs-ofctl</c> commands the agent's driver issues, with their words and exit codes. Flows are
/// kept as the text given (real OVS normalises them; diff-flows compares like for like here).
/// </summary>
public sealed class SimulatedOvs
{
    public sealed record Interface(string Name, int Ofport, string Type, IReadOnlyDictionary<string, string> Options, IReadOnlyDictionary<string, string> ExternalIds);

    private sealed class Bridge(string name)
    {
        public string Name { get; } = name;
        public List<string> Ports { get; } = [];
        public List<string> Flows { get; } = [];
        public SortedDictionary<int, string> Meters { get; } = [];
        public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);
        public int NextOfport { get; set; } = 1;
    }

    private readonly Dictionary<string, Bridge> _bridges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Interface> _interfaces = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public IReadOnlyList<string> BridgeNames
    {
        get
        {
            lock (_lock)
                return _bridges.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>A bridge's ports; empty for an unknown bridge.</summary>
    public IReadOnlyList<string> Ports(string bridge)
    {
        lock (_lock)
            return _bridges.TryGetValue(bridge, out var b) ? [.. b.Ports] : [];
    }

    /// <summary>A bridge's flow table as written.</summary>
    public IReadOnlyList<string> Flows(string bridge)
    {
        lock (_lock)
            return _bridges.TryGetValue(bridge, out var b) ? [.. b.Flows] : [];
    }

    public IReadOnlyDictionary<int, string> Meters(string bridge)
    {
        lock (_lock)
            return _bridges.TryGetValue(bridge, out var b) ? new Dictionary<int, string>(b.Meters) : new Dictionary<int, string>();
    }

    public Interface? Find(string name)
    {
        lock (_lock)
            return _interfaces.GetValueOrDefault(name);
    }

    /// <summary>Creates a bridge (an operator's physical bridge, say).</summary>
    public void AddBridge(string name)
    {
        lock (_lock)
            EnsureBridge(name);
    }

    /// <summary>What libvirt does for a <c>&lt;virtualport type='openvswitch'&gt;</c> interface when its domain starts.</summary>
    public void Plug(string bridge, string tap, string ifaceId, string mac, string vmUuid)
    {
        lock (_lock)
        {
            if (!_bridges.TryGetValue(bridge, out var b) || b.Ports.Contains(tap))
                return;
            AddPort(b, tap, "", new Dictionary<string, string>(), new Dictionary<string, string>
            {
                ["iface-id"] = ifaceId, ["attached-mac"] = mac, ["vm-uuid"] = vmUuid, ["iface-status"] = "active",
            });
        }
    }

    /// <summary>What libvirt does when the domain stops: its taps leave the bridge.</summary>
    public void Unplug(string tap)
    {
        lock (_lock)
            RemovePort(tap);
    }

    /// <summary>Someone else changes a bridge's flows (an operator, another tool): drift.</summary>
    public void TamperFlows(string bridge, Func<List<string>, List<string>> change)
    {
        lock (_lock)
        {
            var b = _bridges[bridge];
            var changed = change([.. b.Flows]);
            b.Flows.Clear();
            b.Flows.AddRange(changed);
        }
    }

    public CommandResult Run(IReadOnlyList<string> argv)
    {
        lock (_lock)
        {
            return argv[0] switch
            {
                "ovs-vsctl" => Vsctl(argv.Skip(1).Where(a => !a.StartsWith("--timeout=", StringComparison.Ordinal)).ToList()),
                "ovs-ofctl" => Ofctl(argv.Skip(1).ToList()),
                "ovs-appctl" => Appctl(argv.Skip(1).ToList()),
                _ => Error(127, $"{argv[0]}: command not found"),
            };
        }
    }

    private readonly List<(int Zone, string Line)> _connections = [];

    /// <summary>A connection conntrack holds, as <c>dpctl/dump-conntrack</c> prints it (the zone is added to the line).</summary>
    public void AddConnection(int zone, string line)
    {
        lock (_lock)
            _connections.Add((zone, line));
    }

    public IReadOnlyList<string> Connections(int zone)
    {
        lock (_lock)
            return _connections.Where(c => c.Zone == zone).Select(c => c.Line).ToList();
    }

    private CommandResult Appctl(List<string> args)
    {
        switch (args)
        {
            case ["dpctl/dump-conntrack", var zone] when zone.StartsWith("zone=", StringComparison.Ordinal):
                return Ok(string.Concat(_connections.Where(c => $"zone={c.Zone}" == zone).Select(c => $"{c.Line},{zone}\n")));
            case ["dpctl/flush-conntrack", var zone, var tuple] when zone.StartsWith("zone=", StringComparison.Ordinal):
            {
                // The tuple names the original direction's addresses and ports; a line matches when it holds each of them.
                var parts = tuple.Split(',').Select(p => p.Split('=', 2)).Where(kv => kv.Length == 2)
                    .Select(kv => kv[0] switch
                    {
                        "ct_nw_src" or "ct_ipv6_src" => $"src={kv[1]}",
                        "ct_nw_dst" or "ct_ipv6_dst" => $"dst={kv[1]}",
                        "ct_tp_src" => $"sport={kv[1]}",
                        "ct_tp_dst" => $"dport={kv[1]}",
                        _ => null,
                    }).OfType<string>().ToList();
                // As ovs-vswitchd: a tuple it holds no connection of is an error (ENOENT).
                return _connections.RemoveAll(c => $"zone={c.Zone}" == zone && parts.All(p => Original(c.Line).Contains(p))) > 0
                    ? Ok("")
                    : Error(2, "ovs-vswitchd: failed to flush conntrack (No such file or directory)\novs-appctl: ovs-vswitchd: server returned an error");
            }
            default:
                return Error(2, $"\"{string.Join(' ', args)}\" is not a valid command (the simulated ovs-appctl knows dpctl/dump-conntrack and dpctl/flush-conntrack)");
        }
    }

    /// <summary>The original direction's fields of a dump-conntrack line: {"src=…", "dst=…", "sport=…", …}.</summary>
    private static HashSet<string> Original(string line)
    {
        var start = line.IndexOf("orig=(", StringComparison.Ordinal);
        var end = start < 0 ? -1 : line.IndexOf(')', start);
        return start < 0 || end < 0 ? [] : line[(start + 6)..end].Split(',').ToHashSet(StringComparer.Ordinal);
    }

    private CommandResult Vsctl(List<string> args)
    {
        switch (args)
        {
            case ["list-br"]:
                return Ok(string.Concat(_bridges.Keys.Order(StringComparer.Ordinal).Select(b => b + "\n")));
            case ["list-ports", var bridge]:
                return _bridges.TryGetValue(bridge, out var b) ? Ok(string.Concat(b.Ports.Order(StringComparer.Ordinal).Select(p => p + "\n"))) : Error(1, $"ovs-vsctl: no bridge named {bridge}");
            case ["--format=json", "--columns=name,ofport,type,options", "list", "Interface"]:
                return Ok(InterfacesJson());
        }
        // A transaction: commands separated by "--"; all or nothing.
        var commands = Split(args);
        var bridges = _bridges.ToDictionary(kv => kv.Key, kv => Clone(kv.Value), StringComparer.Ordinal);
        var interfaces = new Dictionary<string, Interface>(_interfaces, StringComparer.Ordinal);
        foreach (var command in commands)
        {
            var error = Apply(command);
            if (error is not null)
            {
                _bridges.Clear();
                foreach (var kv in bridges)
                    _bridges[kv.Key] = kv.Value;
                _interfaces.Clear();
                foreach (var kv in interfaces)
                    _interfaces[kv.Key] = kv.Value;
                return Error(1, "ovs-vsctl: " + error);
            }
        }
        return Ok("");
    }

    private string? Apply(List<string> command)
    {
        var mayExist = command.Remove("--may-exist");
        var ifExists = command.Remove("--if-exists");
        switch (command)
        {
            case ["add-br", var name]:
                if (_bridges.ContainsKey(name) && !mayExist)
                    return $"cannot create a bridge named {name} because a bridge named {name} already exists";
                EnsureBridge(name);
                return null;
            case ["add-port", var bridge, var port]:
                if (!_bridges.TryGetValue(bridge, out var b))
                    return $"no bridge named {bridge}";
                if (_interfaces.ContainsKey(port))
                    return mayExist && b.Ports.Contains(port) ? null : $"cannot create a port named {port} because a port named {port} already exists on bridge {BridgeOf(port)}";
                AddPort(b, port, "", new Dictionary<string, string>(), new Dictionary<string, string>());
                return null;
            case ["del-port", var bridge, var port]:
                if (!_bridges.TryGetValue(bridge, out var from) || !from.Ports.Contains(port))
                    return ifExists ? null : $"bridge {bridge} does not have a port {port}";
                RemovePort(port);
                return null;
            case ["set", "Bridge", var bridge, .. var settings]:
                if (!_bridges.TryGetValue(bridge, out var target))
                    return $"no row \"{bridge}\" in table Bridge";
                foreach (var kv in settings.Select(s => s.Split('=', 2)))
                    target.Settings[kv[0]] = kv.Length > 1 ? kv[1] : "";
                return null;
            case ["set", "Interface", var name, .. var settings]:
                if (!_interfaces.TryGetValue(name, out var iface))
                    return $"no row \"{name}\" in table Interface";
                var options = new Dictionary<string, string>(iface.Options, StringComparer.Ordinal);
                var type = iface.Type;
                foreach (var kv in settings.Select(s => s.Split('=', 2)))
                {
                    if (kv[0] == "type")
                        type = kv[1];
                    else if (kv[0].StartsWith("options:", StringComparison.Ordinal))
                        options[kv[0]["options:".Length..]] = kv[1];
                }
                _interfaces[name] = iface with { Type = type, Options = options };
                return null;
            default:
                return $"unknown command '{string.Join(' ', command)}' (the simulated ovs-vsctl knows add-br, add-port, del-port, set, list-br, list-ports, list Interface)";
        }
    }

    private CommandResult Ofctl(List<string> args)
    {
        if (args is ["-O", "OpenFlow13", .. var rest])
            args = rest;
        args.Remove("--bundle");  // every replace here is all or nothing anyway
        switch (args)
        {
            case ["replace-flows", var bridge, var file]:
            {
                if (!_bridges.TryGetValue(bridge, out var b))
                    return Error(1, $"ovs-ofctl: {bridge} is not a bridge or a socket");
                b.Flows.Clear();
                b.Flows.AddRange(ReadFlows(file));
                return Ok("");
            }
            case ["diff-flows", var bridge, var file]:
            {
                if (!_bridges.TryGetValue(bridge, out var b))
                    return Error(1, $"ovs-ofctl: {bridge} is not a bridge or a socket");
                var want = ReadFlows(file).ToHashSet(StringComparer.Ordinal);
                var have = b.Flows.ToHashSet(StringComparer.Ordinal);
                var lines = have.Except(want).Select(f => "-" + f).Concat(want.Except(have).Select(f => "+" + f)).ToList();
                return new CommandResult(lines.Count == 0 ? 0 : 2, string.Concat(lines.Select(l => l + "\n")), "");
            }
            case ["dump-flows", var bridge, ..]:
                return _bridges.TryGetValue(bridge, out var d)
                    ? Ok(string.Concat(d.Flows.Select(f => " " + f + "\n")))
                    : Error(1, $"ovs-ofctl: {bridge} is not a bridge or a socket");
            case ["add-meter" or "mod-meter", var bridge, var spec]:
            {
                if (!_bridges.TryGetValue(bridge, out var b))
                    return Error(1, $"ovs-ofctl: {bridge} is not a bridge or a socket");
                var id = MeterId(spec);
                if (id is null)
                    return Error(1, $"ovs-ofctl: {spec}: no meter id");
                var exists = b.Meters.ContainsKey(id.Value);
                if (args[0] == "add-meter" && exists)
                    return Error(1, "OFPT_ERROR (OF1.3): OFPMMFC_METER_EXISTS");
                if (args[0] == "mod-meter" && !exists)
                    return Error(1, "OFPT_ERROR (OF1.3): OFPMMFC_UNKNOWN_METER");
                b.Meters[id.Value] = spec;
                return Ok("");
            }
            case ["del-meter", var bridge, var spec]:
            {
                if (_bridges.TryGetValue(bridge, out var b) && MeterId(spec) is { } id)
                    b.Meters.Remove(id);
                return Ok("");
            }
            case ["dump-meters", var bridge]:
            {
                if (!_bridges.TryGetValue(bridge, out var b))
                    return Error(1, $"ovs-ofctl: {bridge} is not a bridge or a socket");
                var text = "OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):\n" + string.Concat(b.Meters.Values.Select(DumpMeter));
                return Ok(text);
            }
            default:
                return Error(1, $"ovs-ofctl: unknown command '{string.Join(' ', args)}' in the simulated host");
        }
    }

    /// <summary>"meter=3,kbps,burst,band=type=drop,rate=1000,burst_size=800" as dump-meters prints it.</summary>
    private static string DumpMeter(string spec)
    {
        var parts = spec.Split(',');
        var head = parts.TakeWhile(p => !p.StartsWith("band=", StringComparison.Ordinal)).ToList();
        var band = parts.SkipWhile(p => !p.StartsWith("band=", StringComparison.Ordinal)).Select((p, i) => i == 0 ? p["band=".Length..] : p).ToList();
        return $"{string.Join(' ', head)} bands=\n{string.Join(' ', band)}\n";
    }

    private static int? MeterId(string spec) =>
        spec.Split(',').FirstOrDefault(p => p.StartsWith("meter=", StringComparison.Ordinal)) is { } m
        && int.TryParse(m["meter=".Length..], CultureInfo.InvariantCulture, out var id) ? id : null;

    private static List<string> ReadFlows(string file) =>
        File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

    private void EnsureBridge(string name)
    {
        if (_bridges.ContainsKey(name))
            return;
        _bridges[name] = new Bridge(name);
        _bridges[name].Ports.Add(name);
        _interfaces[name] = new Interface(name, 65534, "internal", new Dictionary<string, string>(), new Dictionary<string, string>());
    }

    private void AddPort(Bridge bridge, string name, string type, IReadOnlyDictionary<string, string> options, IReadOnlyDictionary<string, string> externalIds)
    {
        bridge.Ports.Add(name);
        _interfaces[name] = new Interface(name, bridge.NextOfport++, type, options, externalIds);
    }

    private void RemovePort(string name)
    {
        foreach (var b in _bridges.Values)
            b.Ports.Remove(name);
        _interfaces.Remove(name);
    }

    private string? BridgeOf(string port) => _bridges.Values.FirstOrDefault(b => b.Ports.Contains(port))?.Name;

    private string InterfacesJson()
    {
        var data = _interfaces.Values.OrderBy(i => i.Name, StringComparer.Ordinal).Select(i => new object[]
        {
            i.Name, i.Ofport, i.Type, new object[] { "map", i.Options.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new[] { kv.Key, kv.Value }).ToArray() },
        });
        return JsonSerializer.Serialize(new { data, headings = new[] { "name", "ofport", "type", "options" } }) + "\n";
    }

    private static List<List<string>> Split(List<string> args)
    {
        var commands = new List<List<string>> { new() };
        foreach (var a in args)
        {
            if (a == "--")
                commands.Add([]);
            else
                commands[^1].Add(a);
        }
        return commands.Where(c => c.Count > 0).ToList();
    }

    private static Bridge Clone(Bridge b)
    {
        var copy = new Bridge(b.Name) { NextOfport = b.NextOfport };
        copy.Ports.AddRange(b.Ports);
        copy.Flows.AddRange(b.Flows);
        foreach (var kv in b.Meters)
            copy.Meters[kv.Key] = kv.Value;
        foreach (var kv in b.Settings)
            copy.Settings[kv.Key] = kv.Value;
        return copy;
    }

    private static CommandResult Ok(string output) => new(0, output, "");

    private static CommandResult Error(int code, string message) => new(code, "", message + "\n");
}
