using System.Globalization;
using System.Text.RegularExpressions;
using Isola.Rendering.Flows;
using Xunit.Abstractions;
using static Isola.Tests.Agent.Ovs.Traffic.TrafficScenario;

namespace Isola.Tests.Agent.Ovs.Traffic;

/// <summary>The traffic tests share one <see cref="TrafficWorld"/> and run alone, so no other test takes the CPU from iperf3.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TrafficCollection : ICollectionFixture<TrafficWorld>
{
    public const string Name = "traffic between namespaces";
}

/// <summary>
/// Real frames through the flows Isola's agent put on two userspace Open vSwitches (netdev datapath,
/// one per host namespace), VMs as namespaces on veths, VXLAN over a veth underlay: VMs of one
/// network reach each other across hosts and get their peers' MACs from the ARP responder; a VM
/// cannot reach another tenant's VM in the same address space, even knowing its MAC; security groups
/// hold for real TCP; iperf3 through a port with a rate limit (ingress, or egress added and changed
/// while the switch runs) measures within 15% of it; a port's DSCP mark is on what its VM sends when
/// it reaches the peer VM, on the same host and across the tunnel, IPv4 and IPv6.
/// </summary>
[Collection(TrafficCollection.Name)]
public sealed partial class TrafficTests(TrafficWorld world, ITestOutputHelper output)
{
    private static readonly TimeSpan FirstAnswer = TimeSpan.FromSeconds(15);

    private Guest Vm(TrafficVm vm) => new(world, vm);

    [Fact]
    public Task Vms_of_a_network_ping_each_other_across_hosts_through_vxlan_and_arp_answers_with_the_peers_mac() => Diagnosed(async () =>
    {
        foreach (var (from, to, vni) in new[] { (X1, X2, VniX), (Y1, Y2, VniY) })
        {
            var echoes = await Vm(to).EchoRequestsReceivedAsync();
            var tunnelled = await TunnelPacketsAsync(to.Host, vni);
            Assert.True(await Vm(from).PingUntilAnsweredAsync(to.Ip, FirstAnswer), $"{from.Name} got no answer from {to.Name} ({to.Ip}) in {FirstAnswer.TotalSeconds} s");
            var replies = await Vm(from).PingAsync(to.Ip, 5);
            output.WriteLine($"{from.Name} ({from.Ip}, host {from.Host}) -> {to.Name} ({to.Ip}, host {to.Host}): {replies}/5 replies");
            Assert.True(replies >= 4, $"{from.Name} -> {to.Name}: {replies}/5 replies");
            Assert.True(await Vm(to).EchoRequestsReceivedAsync() - echoes >= 5, $"{to.Name} saw fewer echo requests than answers came back");
            // They came out of the tunnel with the network's key (the flow counters lag the datapath a little).
            Assert.True(await EventuallyAsync(async () => await TunnelPacketsAsync(to.Host, vni) - tunnelled >= 5),
                $"host {to.Host}: fewer than 5 packets with key {vni} from the tunnel");

            // ARP: each side's kernel holds the other's MAC, from Isola's responder (x1 and y1 share
            // 10.1.0.11: x2 and y2 each got their own network's MAC for it).
            Assert.Equal(to.Mac, (await Vm(from).NeighbourAsync(to.Ip)).Mac);
            Assert.Equal(from.Mac, (await Vm(to).NeighbourAsync(from.Ip)).Mac);
        }
    });

    [Fact]
    public Task Vms_of_a_network_on_one_host_talk_through_conntrack_twice_and_security_groups_hold_for_real_tcp() => Diagnosed(async () =>
    {
        // x1 and x3 share host a: egress and ingress conntrack in the same zone, no tunnel.
        Assert.True(await Vm(X1).PingUntilAnsweredAsync(X3.Ip, FirstAnswer), "x1 got no answer from x3 on the same host");
        Assert.Equal(X3.Mac, (await Vm(X1).NeighbourAsync(X3.Ip)).Mac);
        var allowed = await Vm(X1).IperfToAsync(X3, "-t", "2");
        output.WriteLine($"TCP x1 -> x3 port 5201 (allowed), same host: {allowed}");
        Assert.True(allowed.ReceiverMbps > 1, $"x1 -> x3: {allowed}");

        // Port 5202 has a listener but no rule: the SYN is dropped (a timeout, not a reset).
        var denied = await Assert.ThrowsAsync<InvalidOperationException>(() => Vm(X1).IperfToAsync(X3, 5202, "-t", "1"));
        output.WriteLine($"TCP x1 -> x3 port 5202 (no rule): {denied.Message}");
        Assert.Contains("timed out", denied.Message, StringComparison.OrdinalIgnoreCase);
    });

    [Fact]
    public Task A_vm_cannot_reach_another_tenants_vm_in_the_same_address_space_even_knowing_its_mac() => Diagnosed(async () =>
    {
        foreach (var (from, other) in new[] { (X1, Y2), (Y1, X2) })
        {
            var echoes = await Vm(other).EchoRequestsReceivedAsync();
            var asked = await Vm(from).PingAsync(other.Ip, 3);
            var neighbour = await Vm(from).NeighbourAsync(other.Ip);
            output.WriteLine($"{from.Name} -> {other.Ip} ({other.Name}, other network): {asked}/3 replies, neighbour {neighbour.Mac ?? "none"} {neighbour.State}");
            Assert.Equal(0, asked);
            Assert.NotEqual(other.Mac, neighbour.Mac);

            // Knowing the MAC (a static neighbour entry) does not help: the frame stays in its own network.
            await Vm(from).SetNeighbourAsync(other.Ip, other.Mac);
            try
            {
                var forced = await Vm(from).PingAsync(other.Ip, 3);
                output.WriteLine($"{from.Name} -> {other.Ip} at {other.Mac} (static neighbour): {forced}/3 replies");
                Assert.Equal(0, forced);
            }
            finally
            {
                await Vm(from).ForgetNeighbourAsync(other.Ip);
            }
            Assert.Equal(echoes, await Vm(other).EchoRequestsReceivedAsync());
        }
        // The same VMs do reach their own network (the failures above are the isolation, not a dead path).
        Assert.True(await Vm(X1).PingUntilAnsweredAsync(X2.Ip, FirstAnswer));
        Assert.True(await Vm(Y1).PingUntilAnsweredAsync(Y2.Ip, FirstAnswer));
    });

    [Fact]
    public Task Iperf3_through_a_rate_limited_port_stays_within_15_percent_of_the_limit() => Diagnosed(async () =>
    {
        var b = world.Host("b");
        var ofport = int.Parse((await b.Ovs.Vsctl("get", "Interface", X2.Port.Device, "ofport")).Trim(), CultureInfo.InvariantCulture);
        var meters = await b.Ovs.Ofctl("dump-meters", "br-int");
        Assert.Contains($"meter={FlowPipeline.IngressMeter(ofport)} kbps burst", meters, StringComparison.Ordinal);
        Assert.Contains($"rate={X2Limit.Kbps} burst_size={X2Limit.BurstKb}", meters, StringComparison.Ordinal);
        Assert.True(await Vm(X1).PingUntilAnsweredAsync(X2.Ip, FirstAnswer));
        Assert.True(await Vm(Y1).PingUntilAnsweredAsync(Y2.Ip, FirstAnswer));

        var limit = X2Limit.Kbps / 1000.0;
        // The first second is left out: the meter's burst (0.8 s at the rate) passes then.
        var tcp = await Vm(X1).IperfToAsync(X2, "-t", "5", "-O", "1");
        output.WriteLine($"TCP x1 -> x2 (limit {limit} Mbit/s, burst {X2Limit.BurstKb} kbit): {tcp}");
        var udp = await Vm(X1).IperfToAsync(X2, "-u", "-b", $"{2 * limit}M", "-l", "1400", "-t", "5", "-O", "1");
        output.WriteLine($"UDP x1 -> x2 offered {2 * limit} Mbit/s: {udp}");
        var free = await Vm(Y1).IperfToAsync(Y2, "-t", "3");
        output.WriteLine($"TCP y1 -> y2 (no limit, same path and CPUs): {free}");
        var dropped = MeterDrops(await b.Ovs.Ofctl("meter-stats", "br-int", $"meter={FlowPipeline.IngressMeter(ofport)}"));
        output.WriteLine($"meter {FlowPipeline.IngressMeter(ofport)} on host b dropped {dropped} packets");

        Assert.InRange(tcp.ReceiverMbps, 0.85 * limit, 1.15 * limit);
        Assert.InRange(udp.ReceiverMbps, 0.85 * limit, 1.15 * limit);
        // The limit is the meter's, not the machine's: the same path without one goes well past it.
        Assert.True(free.ReceiverMbps > 1.15 * limit, $"without a limit only {free.ReceiverMbps:0.0} Mbit/s: the machine, not the meter, may have set the rate");
        Assert.True(dropped > 0, "the meter dropped nothing");
    });

    [Fact]
    public Task An_egress_limit_added_and_then_changed_by_the_agent_holds_for_what_the_vm_sends() => Diagnosed(async () =>
    {
        var a = world.Host("a");
        var ofport = int.Parse((await a.Ovs.Vsctl("get", "Interface", X1.Port.Device, "ofport")).Trim(), CultureInfo.InvariantCulture);
        Assert.True(await Vm(X1).PingUntilAnsweredAsync(X3.Ip, FirstAnswer));
        try
        {
            foreach (var (kbps, step) in new[] { (20_000L, "added"), (30_000L, "changed") })
            {
                var limited = StateOf("a") with
                {
                    Ports = StateOf("a").Ports.Select(p => p.Id == X1.Port.Id ? p with { Egress = new PortRate(kbps, kbps * 8 / 10) } : p).ToList(),
                };
                var cycle = await a.Cycle.RunAsync(limited, default);
                Assert.Empty(cycle.Failures);
                Assert.Contains(cycle.Done, s => s is Isola.Agent.Reconcile.OvsStep.SetMeter m && m.Meter.Id == FlowPipeline.EgressMeter(ofport) && m.Exists == (step == "changed"));
                // x1 -> x3 on the same host: only x1's egress meter is on the way.
                var limit = kbps / 1000.0;
                var udp = await Vm(X1).IperfToAsync(X3, "-u", "-b", $"{2 * limit}M", "-l", "1400", "-t", "3", "-O", "1");
                output.WriteLine($"UDP x1 -> x3, x1's egress limit {step}: {limit} Mbit/s, offered {2 * limit}: {udp}");
                Assert.InRange(udp.ReceiverMbps, 0.85 * limit, 1.15 * limit);
            }
        }
        finally
        {
            var back = await a.Cycle.RunAsync(StateOf("a"), default);
            Assert.Empty(back.Failures);
        }
        Assert.DoesNotContain($"meter={FlowPipeline.EgressMeter(ofport)} ", await a.Ovs.Ofctl("dump-meters", "br-int"), StringComparison.Ordinal);
    });

    [Fact]
    public Task A_dscp_mark_the_agent_sets_is_on_what_the_vm_sends_when_it_reaches_the_peer_locally_and_through_the_tunnel() => Diagnosed(async () =>
    {
        // x1 sends with DSCP 8 itself (tos 0x20); x3 is on its host, x2 behind the tunnel. Each peer counts echo requests by DSCP.
        const int sent = 8, mark = 46;
        var a = world.Host("a");
        var targets = new[] { (X3, X3.Ip, 4), (X3, X3.LinkLocal, 6), (X2, X2.Ip, 4), (X2, X2.LinkLocal, 6) };

        async Task ArriveWith(int dscp, string step)
        {
            var other = dscp == mark ? sent : mark;
            foreach (var (peer, ip, version) in targets)
            {
                var (before, beforeOther) = (await Vm(peer).EchoRequestsWithDscpAsync(version, dscp), await Vm(peer).EchoRequestsWithDscpAsync(version, other));
                var replies = await Vm(X1).PingAsync(ip, 5, tos: sent << 2);
                var arrived = await Vm(peer).EchoRequestsWithDscpAsync(version, dscp) - before;
                var arrivedOther = await Vm(peer).EchoRequestsWithDscpAsync(version, other) - beforeOther;
                output.WriteLine($"{step}: x1 -> {peer.Name} ({ip}), sent with DSCP {sent}: {replies}/5 replies; {peer.Name} took {arrived} with DSCP {dscp}, {arrivedOther} with {other}");
                Assert.True(replies >= 4, $"{step}: x1 -> {peer.Name} ({ip}): {replies}/5 replies");
                Assert.True(arrived >= replies, $"{step}: {peer.Name} took {arrived} IPv{version} echo requests with DSCP {dscp}, {replies} were answered");
                Assert.Equal(0, arrivedOther);
            }
        }

        TrafficVm[] vms = [X1, X3, X2];
        foreach (var vm in vms)
            await Vm(vm).SetIpv6Async(true);
        try
        {
            foreach (var peer in new[] { X3, X2 })
                await Vm(peer).CountEchoRequestsByDscpAsync(sent, mark);
            foreach (var (peer, ip, _) in targets)
                Assert.True(await Vm(X1).PingUntilAnsweredAsync(ip, FirstAnswer), $"x1 got no answer from {peer.Name} at {ip}");
            await ArriveWith(sent, "no mark");
            try
            {
                var marked = StateOf("a") with { Ports = StateOf("a").Ports.Select(p => p.Id == X1.Port.Id ? p with { DscpMark = mark } : p).ToList() };
                var cycle = await a.Cycle.RunAsync(marked, default);
                Assert.Empty(cycle.Failures);
                Assert.Contains(cycle.Done, s => s is Isola.Agent.Reconcile.OvsStep.ReplaceFlows);
                await ArriveWith(mark, $"x1 marked {mark}");
            }
            finally
            {
                var back = await a.Cycle.RunAsync(StateOf("a"), default);
                Assert.Empty(back.Failures);
            }
            // The mark went with the rule: what x1 sends arrives as it was sent again.
            await ArriveWith(sent, "mark removed");
        }
        finally
        {
            foreach (var vm in vms)
                await Vm(vm).SetIpv6Async(false);
        }
    });

    /// <summary>Packets the host's flow for the tunnel key <paramref name="vni"/> has taken in.</summary>
    private async Task<long> TunnelPacketsAsync(string host, long vni)
    {
        var flows = await world.Host(host).Ovs.Ofctl("dump-flows", "br-int", "table=0");
        return flows.Split('\n').Where(l => l.Contains($"tun_id=0x{vni:x},", StringComparison.Ordinal))
            .Sum(l => long.Parse(PacketCount().Match(l).Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static long MeterDrops(string stats)
    {
        // "meter:N flow_count:1 packet_in_count:... byte_in_count:... duration:...s bands:\n0: packet_count:D byte_count:..."
        var band = stats.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("0: ", StringComparison.Ordinal)) ?? "";
        var m = BandPackets().Match(band);
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 30; i++)
        {
            if (await condition())
                return true;
            await Task.Delay(100);
        }
        return await condition();
    }

    /// <summary>Runs the test body; when it fails, the setup log and what the switches hold go to the output.</summary>
    private async Task Diagnosed(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            output.WriteLine(string.Join('\n', world.SetupLog));
            output.WriteLine(await world.DiagnosticsAsync());
            throw;
        }
    }

    [GeneratedRegex(@"n_packets=(\d+)")]
    private static partial Regex PacketCount();

    [GeneratedRegex(@"packet_count:(\d+)")]
    private static partial Regex BandPackets();
}
