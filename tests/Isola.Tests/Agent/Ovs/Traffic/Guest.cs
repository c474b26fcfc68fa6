using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Ovs.Traffic;

/// <summary>What iperf3's client reported: the rate the receiver got, the sender's, and TCP retransmits or UDP loss.</summary>
internal sealed record IperfResult(double ReceiverMbps, double SenderMbps, long? Retransmits, double? LostPercent)
{
    public override string ToString() =>
        $"receiver {ReceiverMbps:0.0} Mbit/s, sender {SenderMbps:0.0} Mbit/s" +
        (Retransmits is { } r ? $", {r} retransmits" : "") + (LostPercent is { } l ? $", {l:0.#}% lost" : "");
}

/// <summary>Things run inside the VMs' namespaces: ping, the neighbour table, ICMP counters (also by DSCP), iperf3.</summary>
internal sealed partial class Guest(TrafficWorld world, TrafficVm vm)
{
    private string Ns => world.NamespaceOf(vm);

    /// <summary>
    /// Echo replies received out of <paramref name="count"/> requests, each waited for at most <paramref name="waitSeconds"/>;
    /// sent with <paramref name="tos"/> as their IPv4 TOS byte or IPv6 traffic class when given (ping -Q). An IPv6
    /// link-local address is given with its interface: <c>fe80::1%eth0</c>.
    /// </summary>
    public async Task<int> PingAsync(string ip, int count, int waitSeconds = 1, int? tos = null)
    {
        var result = await world.Lab.ExecAsync(Ns, ["ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.2",
            "-W", waitSeconds.ToString(CultureInfo.InvariantCulture),
            .. tos is { } t ? new[] { "-Q", "0x" + t.ToString("x2", CultureInfo.InvariantCulture) } : [], ip]);
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

    /// <summary>IPv6 on or off on its eth0 (off in every namespace at first: <see cref="NetworkLab.AddNamespaceAsync"/>); on, its link-local address is usable once duplicate detection passed.</summary>
    public Task SetIpv6Async(bool on) =>
        world.Lab.MustExecAsync(Ns, "sysctl", "-q", "-w", $"net.ipv6.conf.eth0.disable_ipv6={(on ? 0 : 1)}");

    /// <summary>The iptables of each IP version and its match for an echo request.</summary>
    private static readonly (int Version, string Tool, string[] EchoRequest)[] Netfilter =
    [
        (4, "iptables", ["-p", "icmp", "--icmp-type", "echo-request"]),
        (6, "ip6tables", ["-p", "ipv6-icmp", "--icmpv6-type", "echo-request"]),
    ];

    /// <summary>
    /// Counts the echo requests (IPv4 and IPv6) this VM's kernel takes in with each of <paramref name="dscps"/> in
    /// their DSCP bits: one counting rule (no target: it decides nothing) per value and IP version in its INPUT chain.
    /// </summary>
    public async Task CountEchoRequestsByDscpAsync(params int[] dscps)
    {
        foreach (var dscp in dscps)
        {
            foreach (var (_, tool, echoRequest) in Netfilter)
            {
                string[] rule = ["INPUT", .. echoRequest, "-m", "dscp", "--dscp", dscp.ToString(CultureInfo.InvariantCulture)];
                if (!(await world.Lab.ExecAsync(Ns, [tool, "-C", .. rule])).Succeeded)
                    await world.Lab.MustExecAsync(Ns, [tool, "-A", .. rule]);
            }
        }
    }

    /// <summary>Echo requests of IP version <paramref name="version"/> with DSCP <paramref name="dscp"/> received since <see cref="CountEchoRequestsByDscpAsync"/> began counting them.</summary>
    public async Task<long> EchoRequestsWithDscpAsync(int version, int dscp)
    {
        // "-A INPUT -p icmp -m icmp --icmp-type 8 -m dscp --dscp 0x2e -c PACKETS BYTES"
        var rules = await world.Lab.MustExecAsync(Ns, Netfilter.Single(n => n.Version == version).Tool, "-S", "INPUT", "-v");
        foreach (Match m in DscpCounter().Matches(rules))
        {
            if (int.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) == dscp)
                return long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"{vm.Name} counts no IPv{version} echo requests with DSCP {dscp}:\n{rules}");
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

    [GeneratedRegex(@"--dscp 0x([0-9a-fA-F]+) -c (\d+) \d+")]
    private static partial Regex DscpCounter();
}
