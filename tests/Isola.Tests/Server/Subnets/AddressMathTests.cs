using System.Net;
using Isola.Server.Subnets;

namespace Isola.Tests.Server.Subnets;

public sealed class AddressMathTests
{
    [Theory]
    [InlineData("10.0.0.0/24", 4, "10.0.0.1", "10.0.0.254")]
    [InlineData("192.168.4.0/30", 4, "192.168.4.1", "192.168.4.2")]
    [InlineData("2001:db8::/64", 6, "2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]
    [InlineData("fd00:1::/126", 6, "fd00:1::1", "fd00:1::3")]
    public void A_prefix_knows_its_host_addresses(string text, int version, string firstHost, string lastHost)
    {
        Assert.True(Cidr.TryParse(text, out var cidr, out var error), error);
        Assert.Equal(version, cidr.Version);
        Assert.Equal(firstHost, cidr.Address(cidr.FirstHost).ToString());
        Assert.Equal(lastHost, cidr.Address(cidr.LastHost).ToString());
        Assert.Equal(text, cidr.ToString());
    }

    [Theory]
    [InlineData("10.0.0.1/24", "host bits are set: the network is 10.0.0.0/24")]
    [InlineData("2001:db8::1/64", "host bits are set: the network is 2001:db8::/64")]
    [InlineData("10.0.0.0/33", "0-32")]
    [InlineData("2001:db8::/129", "0-128")]
    [InlineData("10.0.0.0", "must be a prefix")]
    [InlineData("10.0.0/24", "not an IPv4")]
    [InlineData("010.0.0.0/24", "not an IPv4")]
    [InlineData("fe80::%eth0/64", "not an IPv4")]
    [InlineData("10.0.0.0/-1", "0-32")]
    public void Bad_prefixes_say_why(string text, string reason)
    {
        Assert.False(Cidr.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_bits_may_be_cleared_when_asked()
    {
        Assert.True(Cidr.TryParse("10.1.2.3/8", out var cidr, out _, clearHostBits: true));
        Assert.Equal("10.0.0.0/8", cidr.ToString());
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.128/25", true)]
    [InlineData("10.0.0.0/25", "10.0.0.128/25", false)]
    [InlineData("10.0.0.0/8", "10.255.255.0/24", true)]
    [InlineData("2001:db8::/48", "2001:db8:0:ff::/64", true)]
    [InlineData("2001:db8::/64", "2001:db8:0:1::/64", false)]
    [InlineData("0.0.0.0/1", "::/1", false)]
    public void Overlap_is_symmetric(string a, string b, bool overlaps)
    {
        var (x, y) = (Cidr.Parse(a), Cidr.Parse(b));
        Assert.Equal(overlaps, x.Overlaps(y));
        Assert.Equal(overlaps, y.Overlaps(x));
    }

    [Fact]
    public void Default_pools_leave_out_network_broadcast_and_gateway()
    {
        var cidr = Cidr.Parse("10.0.0.0/24");
        Assert.Equal([R("10.0.0.2", "10.0.0.254")], AddressRange.Defaults(cidr, IPAddress.Parse("10.0.0.1")));
        Assert.Equal([R("10.0.0.1", "10.0.0.99"), R("10.0.0.101", "10.0.0.254")], AddressRange.Defaults(cidr, IPAddress.Parse("10.0.0.100")));
        Assert.Equal([R("10.0.0.1", "10.0.0.254")], AddressRange.Defaults(cidr, null));
        var v6 = Cidr.Parse("2001:db8::/120");
        // IPv6 has no broadcast: the last address is a host's; the first (subnet-router anycast) is not.
        Assert.Equal([R("2001:db8::2", "2001:db8::ff")], AddressRange.Defaults(v6, IPAddress.Parse("2001:db8::1")));
    }

    [Fact]
    public void The_lowest_free_address_skips_used_ones_and_the_gateway_across_pools()
    {
        var cidr = Cidr.Parse("10.0.0.0/24");
        var pools = new[] { R("10.0.0.20", "10.0.0.21"), R("10.0.0.2", "10.0.0.4") };
        var gateway = N("10.0.0.3");
        Assert.Equal(N("10.0.0.2"), AddressRange.LowestFree(pools, new HashSet<UInt128>(), gateway));
        Assert.Equal(N("10.0.0.4"), AddressRange.LowestFree(pools, new HashSet<UInt128> { N("10.0.0.2") }, gateway));
        Assert.Equal(N("10.0.0.21"), AddressRange.LowestFree(pools, new HashSet<UInt128> { N("10.0.0.2"), N("10.0.0.4"), N("10.0.0.20") }, gateway));
        Assert.Null(AddressRange.LowestFree(pools, new HashSet<UInt128> { N("10.0.0.2"), N("10.0.0.4"), N("10.0.0.20"), N("10.0.0.21") }, gateway));
    }

    [Fact]
    public void IPv6_allocation_works_at_the_top_of_a_64()
    {
        var cidr = Cidr.Parse("2001:db8::/64");
        var pool = R("2001:db8::ffff:ffff:ffff:fffe", "2001:db8::ffff:ffff:ffff:ffff");
        var used = new HashSet<UInt128> { N("2001:db8::ffff:ffff:ffff:fffe") };
        Assert.Equal("2001:db8::ffff:ffff:ffff:ffff", cidr.Address(AddressRange.LowestFree([pool], used, null)!.Value).ToString());
        used.Add(N("2001:db8::ffff:ffff:ffff:ffff"));
        Assert.Null(AddressRange.LowestFree([pool], used, null));
    }

    [Fact]
    public void Addresses_round_trip_through_numbers()
    {
        foreach (var text in new[] { "0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" })
        {
            var address = IPAddress.Parse(text);
            Assert.Equal(text, Cidr.FromNumber(Cidr.Number(address), address.AddressFamily).ToString());
        }
        Assert.Equal((UInt128)0x0A000001, N("10.0.0.1"));
    }

    private static UInt128 N(string address) => Cidr.Number(IPAddress.Parse(address));

    private static AddressRange R(string start, string end) => new(N(start), N(end));
}
