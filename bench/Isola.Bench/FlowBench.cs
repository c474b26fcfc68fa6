using System.Diagnostics;
using System.Globalization;
using Isola.Rendering.Flows;

namespace Isola.Bench;

/// <summary>
/// Rendering a host's flow table: N virtio ports in the default security group (egress anything,
/// ingress from the group: a remote group with N members) on one VXLAN network with 3 peers of 10
/// ports each. Usage: flows [--ports 100,1000] [--runs 50] [--write DIR] (DIR/flows-N.txt: the tables, for timing ovs-ofctl on them)
/// </summary>
internal static class FlowBench
{
    public static int Run(string[] args)
    {
        var sizes = BenchArgs.Get(args, "--ports", "10,100,1000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        var runs = BenchArgs.Int(args, "--runs", 50);
        Console.WriteLine("| ports on the host | flows | render p50 | render p99 | µs per port |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            var (state, ofports) = Host(n);
            var layout = OvsLayout.Parse("br-int", null);
            var rendered = FlowPipeline.Render(state, layout, ofports);
            var flows = rendered.Bridges.Sum(b => b.Flows.Count);
            if (BenchArgs.Get(args, "--write", "") is { Length: > 0 } dir)
                File.WriteAllLines(Path.Join(dir, $"flows-{n}.txt"), rendered.Bridges[0].Flows);
            for (var i = 0; i < 5; i++)
                FlowPipeline.Render(state, layout, ofports);
            var times = new double[runs];
            for (var i = 0; i < runs; i++)
            {
                var clock = Stopwatch.StartNew();
                FlowPipeline.Render(state, layout, ofports);
                times[i] = clock.Elapsed.TotalMilliseconds;
            }
            Array.Sort(times);
            var p50 = times[runs / 2];
            Console.WriteLine(FormattableString.Invariant($"| {n} | {flows} | {p50:0.00} ms | {times[Math.Min(runs - 1, (int)(runs * 0.99))]:0.00} ms | {p50 * 1000 / n:0} |"));
        }
        return 0;
    }

    private static (HostNetworkState, Dictionary<string, int>) Host(int n)
    {
        const string net = "11111111-aaaa-4aaa-8aaa-000000000001";
        string Ip(int i) => $"10.{i / 62500 % 256}.{i / 250 % 250}.{i % 250 + 1}";
        string Mac(int i) => $"fa:16:3e:{i / 65536 % 256:x2}:{i / 256 % 256:x2}:{i % 256:x2}";
        var rules = new SecurityRule[] { new("egress", 4), new("egress", 6), new("ingress", 4, RemoteGroup: "default"), new("ingress", 6, RemoteGroup: "default") };
        var ports = Enumerable.Range(0, n).Select(i => new OverlayPort($"port-{i:d6}", $"vm-{i}", $"tap{i:d8}", net, Mac(i), [Ip(i)], rules)).ToList();
        var peers = Enumerable.Range(0, 3).Select(p => new NetworkPeer($"h{p}", $"198.51.100.{p + 2}",
            Enumerable.Range(0, 10).Select(i => new RemotePort(Mac(100_000 + p * 10 + i), [Ip(100_000 + p * 10 + i)])).ToList())).ToList();
        var members = ports.SelectMany(p => p.Ips).Concat(peers.SelectMany(p => p.Ports).SelectMany(r => r.Ips)).Select(ip => ip + "/32").ToList();
        var state = new HostNetworkState("198.51.100.1", [new OverlayNetwork(net, SegmentType.Vxlan, 1001, null, peers)], ports,
            new Dictionary<string, IReadOnlyList<string>> { ["default"] = members });
        var ofports = ports.Select((p, i) => (p.Device, i + 1)).Concat(peers.Select((p, i) => ($"vxlan-c63364{i + 2:x2}", n + 1 + i)))
            .ToDictionary(x => x.Item1, x => x.Item2);
        return (state, ofports);
    }
}
