using Isola.Agent.Driver;
using Isola.Host.Commands;
using Isola.Rendering.Flows;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Ovs;

/// <summary>The Open vSwitch driver: the exact argv it runs, and what it does with a failure, a timeout or garbage.</summary>
public sealed class OvsDriverTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ScriptedCommandRunner _runner = new();

    private OvsDriver Driver(string? datapath = null) => new(_runner, _dir.Path, datapath);

    public void Dispose() => _dir.Dispose();

    private static readonly string[] ListBr = ["ovs-vsctl", "--timeout=10", "list-br"];
    private static readonly string[] ListInterfaces = ["ovs-vsctl", "--timeout=10", "--format=json", "--columns=name,ofport,type,options", "list", "Interface"];

    private const string Interfaces = """
        {"data":[["br-int",65534,"internal",["map",[]]],["tapa1",1,"",["map",[]]],["vxlan-0a000002",2,"vxlan",["map",[["key","flow"],["local_ip","10.0.0.1"],["remote_ip","10.0.0.2"]]]],["tapgone",["set",[]],"",["map",[]]]],"headings":["name","ofport","type","options"]}
        """;

    [Fact]
    public async Task Reads_bridges_ports_interfaces_and_meters_with_these_commands()
    {
        _runner.Answer(ListBr, "br-int\nbr-physnet2\n")
            .Answer(["ovs-vsctl", "--timeout=10", "list-ports", "br-physnet2"], "phy-br-physnet2\n")
            .Answer(["ovs-vsctl", "--timeout=10", "list-ports", "br-int"], "tapa1\nvxlan-0a000002\n")
            .Answer(ListInterfaces, Interfaces)
            .Answer(["ovs-ofctl", "-O", "OpenFlow13", "dump-meters", "br-int"],
                "OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):\nmeter=3 kbps burst bands=\ntype=drop rate=1000 burst_size=800\n");
        var actual = await Driver().ReadAsync("br-int", ["br-physnet2"]);
        Assert.True(actual.Present);
        Assert.Equal(["tapa1", "vxlan-0a000002"], actual.BridgePorts["br-int"]);
        Assert.Equal(new Dictionary<string, int> { ["br-int"] = 65534, ["tapa1"] = 1, ["vxlan-0a000002"] = 2 }, actual.Ofports);
        Assert.Equal("10.0.0.2", actual.Interfaces["vxlan-0a000002"].Options["remote_ip"]);
        Assert.Equal([new Meter(3, 1000, 800)], actual.Meters);
    }

    [Fact]
    public async Task No_open_vswitch_is_absent_not_an_error()
    {
        Assert.False((await Driver().ReadAsync("br-int", [])).Present);
        _runner.Answer(ListBr, new CommandResult(1, "", "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n"));
        Assert.False((await Driver().ReadAsync("br-int", [])).Present);
    }

    [Fact]
    public async Task Garbage_from_list_interface_is_a_driver_error_naming_the_command()
    {
        _runner.Answer(ListBr, "").Answer(ListInterfaces, "ovs-vsctl: something else\n");
        var e = await Assert.ThrowsAsync<DriverException>(() => Driver().ReadAsync("br-int", []));
        Assert.Contains("ovs-vsctl list Interface", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ports_and_bridges_are_made_and_removed_with_these_commands()
    {
        string[] addBr = ["ovs-vsctl", "--timeout=10", "--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int", "fail_mode=secure",
            "protocols=OpenFlow10,OpenFlow13", "datapath_type=netdev"];
        string[] addTunnel = ["ovs-vsctl", "--timeout=10", "--may-exist", "add-port", "br-int", "gre-0a000003", "--", "set", "Interface", "gre-0a000003",
            "type=gre", "options:remote_ip=10.0.0.3", "options:local_ip=10.0.0.1", "options:key=flow"];
        string[] addPatch = ["ovs-vsctl", "--timeout=10",
            "--may-exist", "add-port", "br-int", "int-br-physnet2", "--", "set", "Interface", "int-br-physnet2", "type=patch", "options:peer=phy-br-physnet2", "--",
            "--may-exist", "add-port", "br-physnet2", "phy-br-physnet2", "--", "set", "Interface", "phy-br-physnet2", "type=patch", "options:peer=int-br-physnet2"];
        string[] delPort = ["ovs-vsctl", "--timeout=10", "--if-exists", "del-port", "br-int", "vxlan-0a000002"];
        foreach (var argv in new[] { addBr, addTunnel, addPatch, delPort })
            _runner.Answer(argv, "");
        var driver = Driver("netdev");
        await driver.EnsureBridgeAsync("br-int");
        await driver.AddTunnelAsync("br-int", FlowPipeline.Tunnel(SegmentType.Gre, "10.0.0.3", "10.0.0.1"));
        await driver.AddPatchAsync("br-int", new PatchPair("physnet2", "br-physnet2", "int-br-physnet2", "phy-br-physnet2"));
        await driver.DeletePortAsync("br-int", "vxlan-0a000002");
        Assert.Equal([addBr, addTunnel, addPatch, delPort], _runner.Calls.Select(c => c.ToArray()));
    }

    [Fact]
    public async Task Flows_are_compared_with_diff_flows_and_replaced_in_one_bundle_from_a_file()
    {
        var check = Path.Join(_dir.Path, "ovs", "br-int.check");
        var applied = Path.Join(_dir.Path, "ovs", "br-int.next");
        string[] flows = ["cookie=0x15a1000000000007,table=0,priority=0 actions=drop"];
        _runner.Answer(["ovs-ofctl", "-O", "OpenFlow13", "diff-flows", "br-int", check], new CommandResult(2, "+table=0 priority=0 actions=drop\n", ""))
            .Answer(["ovs-ofctl", "-O", "OpenFlow13", "--bundle", "replace-flows", "br-int", applied], "");
        var driver = Driver();
        Assert.Null(driver.LastCookie("br-int"));
        Assert.False(await driver.FlowsInSyncAsync("br-int", flows));
        Assert.Equal(flows, File.ReadAllLines(check));
        await driver.ReplaceFlowsAsync("br-int", flows);
        Assert.Equal(flows, File.ReadAllLines(Path.Join(_dir.Path, "ovs", "br-int.flows")));
        Assert.False(File.Exists(applied));
        Assert.Equal(0x15a1000000000007UL, driver.LastCookie("br-int"));
        _runner.Answer(["ovs-ofctl", "-O", "OpenFlow13", "diff-flows", "br-int", check], "");
        Assert.True(await driver.FlowsInSyncAsync("br-int", flows));
    }

    [Theory]
    [InlineData(1, "ovs-ofctl: br-int is not a bridge or a socket")]
    [InlineData(CommandResult.TimedOut, "ovs-ofctl: timed out after 30 s")]
    public async Task A_failed_or_hung_ovs_ofctl_is_a_driver_error_naming_the_command(int exit, string stderr)
    {
        var applied = Path.Join(_dir.Path, "ovs", "br-int.next");
        var check = Path.Join(_dir.Path, "ovs", "br-int.check");
        _runner.Answer(["ovs-ofctl", "-O", "OpenFlow13", "--bundle", "replace-flows", "br-int", applied], new CommandResult(exit, "", stderr))
            .Answer(["ovs-ofctl", "-O", "OpenFlow13", "diff-flows", "br-int", check], new CommandResult(exit, "", stderr));
        var replace = await Assert.ThrowsAsync<DriverException>(() => Driver().ReplaceFlowsAsync("br-int", ["cookie=0x15a1000000000009,table=0,priority=0 actions=drop"]));
        // Not taken: not remembered as what the bridge holds (no false drift later).
        Assert.Null(Driver().LastCookie("br-int"));
        Assert.Contains("replace-flows br-int", replace.Message, StringComparison.Ordinal);
        Assert.Contains(exit.ToString(System.Globalization.CultureInfo.InvariantCulture), replace.Message, StringComparison.Ordinal);
        var diff = await Assert.ThrowsAsync<DriverException>(() => Driver().FlowsInSyncAsync("br-int", ["table=0,priority=0 actions=drop"]));
        Assert.Contains("diff-flows br-int", diff.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Conntrack_lines_become_the_tuples_flush_conntrack_takes()
    {
        Assert.Equal("ct_nw_src=10.1.0.12,ct_nw_dst=10.1.0.11,ct_nw_proto=6,ct_tp_src=40000,ct_tp_dst=22",
            ConntrackEntry.Parse("tcp,orig=(src=10.1.0.12,dst=10.1.0.11,sport=40000,dport=22),reply=(src=10.1.0.11,dst=10.1.0.12,sport=22,dport=40000),zone=9,protoinfo=(state=SYN_SENT)")!.Tuple);
        Assert.Equal("ct_nw_src=10.1.0.12,ct_nw_dst=10.1.0.11,ct_nw_proto=1,icmp_id=7,icmp_type=8,icmp_code=0",
            ConntrackEntry.Parse("icmp,orig=(src=10.1.0.12,dst=10.1.0.11,id=7,type=8,code=0),reply=(src=10.1.0.11,dst=10.1.0.12,id=7,type=0,code=0),zone=9")!.Tuple);
        Assert.Equal("ct_ipv6_src=fd00::2,ct_ipv6_dst=fd00::1,ct_nw_proto=17,ct_tp_src=5000,ct_tp_dst=53",
            ConntrackEntry.Parse("udp,orig=(src=fd00::2,dst=fd00::1,sport=5000,dport=53),reply=(src=fd00::1,dst=fd00::2,sport=53,dport=5000),zone=9")!.Tuple);
        Assert.Null(ConntrackEntry.Parse("sctp,orig=(src=10.1.0.12,dst=10.1.0.11,sport=1,dport=2),reply=(),zone=9"));
        Assert.Null(ConntrackEntry.Parse("garbage"));
    }

    [Fact]
    public async Task Meters_are_added_modified_and_deleted_with_these_commands()
    {
        var meter = new Meter(7, 50_000, 40_000);
        string[] add = ["ovs-ofctl", "-O", "OpenFlow13", "add-meter", "br-int", "meter=7,kbps,burst,band=type=drop,rate=50000,burst_size=40000"];
        string[] mod = ["ovs-ofctl", "-O", "OpenFlow13", "mod-meter", "br-int", "meter=7,kbps,burst,band=type=drop,rate=50000,burst_size=40000"];
        string[] del = ["ovs-ofctl", "-O", "OpenFlow13", "del-meter", "br-int", "meter=7"];
        _runner.Answer(add, "").Answer(mod, "").Answer(del, "");
        await Driver().AddMeterAsync("br-int", meter);
        await Driver().ModifyMeterAsync("br-int", meter);
        await Driver().DeleteMeterAsync("br-int", 7);
        Assert.Equal([add, mod, del], _runner.Calls.Select(c => c.ToArray()));
    }
}
