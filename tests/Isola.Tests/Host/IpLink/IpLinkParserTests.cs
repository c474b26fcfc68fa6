using FsCheck;
using FsCheck.Fluent;
using Isola.Domain.Pci;
using Isola.Host.IpLink;

namespace Isola.Tests.Host.IpLink;

public class IpLinkParserTests
{
    [Fact]
    public void Reads_the_older_format_without_vlan_list_and_rate()
    {
        // iproute2 before 4.13 / kernels without IFLA_VF_VLAN_LIST and IFLA_VF_RATE.
        const string json = """[{"ifname":"eth2","vfinfo_list":[{"vf":3,"mac":"FA:16:3E:AA:BB:CC","vlan":200,"qos":1,"tx_rate":500,"spoofchk":false}]}]""";
        var state = IpLinkParser.ParseVfStates(json, "eth2")[3];
        Assert.Equal(new VfState("fa:16:3e:aa:bb:cc", 200, 1, "802.1Q", false, false, VfLinkState.Auto, 500, 0), state);
    }

    [Fact]
    public void Reads_qinq_protocol_and_trust()
    {
        const string json = """[{"ifname":"p1","vfinfo_list":[{"vf":0,"address":"00:11:22:33:44:55","vlan_list":[{"vlan":7,"protocol":"802.1ad"}],"rate":{"max_tx":0,"min_tx":100},"spoofchk":true,"link_state":"disable","trust":true}]}]""";
        Assert.Equal(new VfState("00:11:22:33:44:55", 7, 0, "802.1ad", true, true, VfLinkState.Disable, 0, 100), IpLinkParser.ParseVfStates(json, "p1")[0]);
    }

    [Fact]
    public void A_pf_without_vfs_has_no_states()
    {
        Assert.Empty(IpLinkParser.ParseVfStates("""[{"ifindex":1,"ifname":"lo"}]""", "lo"));
    }

    [Fact]
    public async Task Reads_what_the_real_ip_prints()
    {
        // lo has no VFs, but this pins the real iproute2 JSON shape (array of links with ifname).
        var result = await new Isola.Host.Commands.ProcessCommandRunner().RunAsync(IpCommands.LinkShowDetails("lo"));
        Assert.True(result.Succeeded, result.StandardError);
        Assert.Empty(IpLinkParser.ParseVfStates(result.StandardOutput, "lo"));
    }

    [Fact]
    public void Render_then_parse_gives_back_every_state()
    {
        var mac = Gen.Choose(0, 255).ArrayOf(6).Select(b => string.Join(':', b.Select(x => x.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
        var state = from m in mac
                    from vlan in Gen.Choose(0, 4094)
                    from qos in Gen.Choose(0, 7)
                    from proto in Gen.Elements("802.1Q", "802.1ad")
                    from spoof in Gen.Elements(true, false)
                    from trust in Gen.Elements(true, false)
                    from link in Gen.Elements(VfLinkState.Auto, VfLinkState.Enable, VfLinkState.Disable)
                    from max in Gen.Choose(0, 100000)
                    from min in Gen.Choose(0, 100000)
                    select new VfState(m, vlan, qos, proto, spoof, trust, link, max, min);
        Prop.ForAll(state.ListOf().ToArbitrary(), states =>
        {
            var vfs = states.Select((s, i) => new VirtualFunction(new PciAddress(0, 8, 0x10, 0), i, null, null, [], null, false, s)).ToList();
            var pf = new PhysicalFunction(new PciAddress(0, 8, 0, 0), new PciId(0x8086, 0x10fb), null, null, 0x020000, DeviceKind.Network,
                "ixgbe", "p2p1", "90:e2:ba:00:00:01", 10000, 0, null, 63, vfs.Count, 0x10ed, null, true, vfs);
            var parsed = IpLinkParser.ParseVfStates(IpLinkRenderer.Render(pf, 4), "p2p1");
            return parsed.Count == states.Count && states.Select((s, i) => parsed[i] == s).All(x => x);
        }).QuickCheckThrowOnFailure();
    }
}
