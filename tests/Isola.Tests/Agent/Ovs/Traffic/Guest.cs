using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Isola.Tests.Agent.Ovs.Traffic;

/// <summary>What iperf3's client reported: the rate the receiver got, the sender's, and TCP retransmits or UDP loss.</summary>
internal sealed record IperfResult(double ReceiverMbps, double SenderMbps, long? Retransmits, double? LostPercent)
{
    public override string ToString() =>
        $"receiver {ReceiverMbps:0.0} Mbit/s, sender {SenderMbps:0.0} Mbit/s" +
        (Retransmits is { } r ? $", {r} retransmits" : "") + (LostPercent is { } l ? $", {l:0.#}% lost" : "");
}

/// <summary>Things run inside the VMs' namespaces: ping, the neighbour table, ICMP counters, iperf3.</summary>
internal sealed partial class Guest(TrafficWorld world, TrafficVm vm)
{
    private string Ns => world.NamespaceOf(vm);

    /// <summary>Echo replies received out of <paramref name="count"/> requests, each waited for at most <paramref name="waitSeconds"/>.</summary>
    public async Task<int> PingAsync(string ip, int count, int waitSeconds = 1)
    {
        var result = await world.Lab.ExecAsync(Ns, "ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2",
            "-W", waitSeconds.ToString(CultureInfo.InvariantCulture), ip);
        var m = PingSummary().Match(result.StandardOutput);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Pings once a second until one reply comes (the first waits for ARP and the tunnel's neighbour), at most <paramref name="limit"/>.</summary>
    public async Task<bool> PingUntilAnsweredAsync(string ip, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await PingAsync(ip, 1) == 1)
                return true;
        }
        return false;
    }

    /// <summary>The MAC this VM's kernel has for <paramref name="ip"/> on eth0, and the entry's state; nulls when it has none.</summary>
    public async Task<(string? Mac, string? State)> NeighbourAsync(string ip)
    {
        var json = await world.Lab.MustExecAsync(Ns, "ip", "-j", "neigh", "show", ip, "dev", "eth0");
        using var doc = JsonDocument.Parse(json.Trim().Length == 0 ? "[]" : json);
        var entry = doc.RootElement.EnumerateArray().FirstOrDefault();
        if (entry.ValueKind != JsonValueKind.Object)
            return (null, null);
        var mac = entry.TryGetProperty("lladdr", out var l) ? l.GetString() : null;
        var state = entry.TryGetProperty("state", out var s) ? string.Join(',', s.EnumerateArray().Select(x => x.GetString())) : null;
        return (mac, state);
    }

    public Task SetNeighbourAsync(string ip, string mac) =>
        world.Lab.MustExecAsync(Ns, "ip", "neigh", "replace", ip, "lladdr", mac, "dev", "eth0", "nud", "permanent");

    public Task ForgetNeighbourAsync(string ip) => world.Lab.ExecAsync(Ns, "ip", "neigh", "del", ip, "dev", "eth0");

    /// <summary>Echo requests this VM's kernel has received (Icmp InEchos of its namespace).</summary>
    public async Task<long> EchoRequestsReceivedAsync()
    {
        var lines = (await world.Lab.MustExecAsync(Ns, "cat", "/proc/net/snmp")).Split('\n').Where(l => l.StartsWith("Icmp: ", StringComparison.Ordinal)).ToList();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, "InEchos")], CultureInfo.InvariantCulture);
    }

    /// <summary>iperf3 from this VM to <paramref name="server"/> (a one-shot server started there for it); extra client arguments in <paramref name="args"/>.</summary>
    public Task<IperfResult> IperfToAsync(TrafficVm server, params string[] args) => IperfToAsync(server, 5201, args);

    public async Task<IperfResult> IperfToAsync(TrafficVm server, int port, params string[] args)
    {
        var serverNs = world.NamespaceOf(server);
        var p = port.ToString(CultureInfo.InvariantCulture);
        var listening = world.Lab.Start(serverNs, "iperf3", "-s", "-1", "-p", p);
        for (var i = 0; i < 50 && (await world.Lab.ExecAsync(serverNs, "ss", "-Hltn", $"sport = :{p}")).StandardOutput.Trim().Length == 0; i++)
            await Task.Delay(100);
        var client = await world.Lab.ExecAsync(Ns, ["iperf3", "-c", server.Ip, "-p", p, "-J", "--connect-timeout", "2000", .. args]);
        // A client that could not connect leaves the one-shot server waiting: stop it at once.
        var (_, _, serverErr) = await listening.WaitAsync(TimeSpan.FromSeconds(client.Succeeded ? 5 : 0.2));
        try
        {
            using var doc = JsonDocument.Parse(client.StandardOutput);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
                throw new InvalidOperationException($"iperf3: {error.GetString()}{(serverErr.Trim().Length > 0 ? $" (server: {serverErr.Trim()})" : "")}");
            var end = root.GetProperty("end");
            var udp = root.GetProperty("start").GetProperty("test_start").GetProperty("protocol").GetString() == "UDP";
            return new IperfResult(
                end.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e6,
                end.GetProperty("sum_sent").GetProperty("bits_per_second").GetDouble() / 1e6,
                udp ? null : end.GetProperty("sum_sent").GetProperty("retransmits").GetInt64(),
                udp ? end.GetProperty("sum").GetProperty("lost_percent").GetDouble() : null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            throw new InvalidOperationException($"iperf3 printed no result (exit {client.ExitCode}): {client.StandardOutput} {client.StandardError}", e);
        }
    }

    [GeneratedRegex(@"(\d+) (?:packets )?received")]
    private static partial Regex PingSummary();
}
