using Isola.Domain.Net;

namespace Isola.Tests.Domain;

/// <summary>The one way Isola reads an IP address from people: the address, nothing around it.</summary>
public class IpAddressTextTests
{
    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("255.255.255.255", "255.255.255.255")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("2001:DB8:0::01", "2001:db8::1")]
    [InlineData("::", "::")]
    [InlineData("::ffff:192.0.2.1", "::ffff:192.0.2.1")]
    public void An_address_is_taken_and_written_canonically(string text, string canonical)
    {
        Assert.True(IpAddressText.TryParse(text, out var address, out var error), error);
        Assert.Equal(canonical, address.ToString());
        Assert.True(IpAddressText.TryParse(text, out _));
    }

    [Theory]
    [InlineData("[2001:db8::1]:53", "brackets")]
    [InlineData("[2001:db8::1]", "brackets")]
    [InlineData("fe80::1%eth0", "zone")]
    [InlineData("fe80::1%2", "zone")]
    [InlineData("10.0.0.1:53", "")]
    [InlineData("10.1", "")]
    [InlineData("010.0.0.1", "")]
    [InlineData(" 10.0.0.1", "")]
    [InlineData(" 2001:db8::1", "")]
    [InlineData("2001:db8::1\n", "")]
    [InlineData("dns.example", "")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Anything_around_the_address_is_refused_and_said(string? text, string why)
    {
        Assert.False(IpAddressText.TryParse(text, out _, out var error));
        Assert.Contains("is not an IPv4 (a.b.c.d) or IPv6 address", error, StringComparison.Ordinal);
        Assert.Contains(why, error, StringComparison.Ordinal);
        Assert.False(IpAddressText.TryParse(text, out _));
    }
}
