using Isola.Domain.Pci;

namespace Isola.Tests.Domain;

public class PciAddressTests
{
    [Theory]
    [InlineData("0000:08:10.1", 0, 0x08, 0x10, 1)]
    [InlineData("0000:af:1f.7", 0, 0xaf, 0x1f, 7)]
    [InlineData("10000:00:00.0", -1, 0, 0, 0)]
    [InlineData("08:00.0", 0, 8, 0, 0)]
    [InlineData("0000:08:20.0", -1, 0, 0, 0)]
    [InlineData("0000:08:00.8", -1, 0, 0, 0)]
    [InlineData("0000-08:00.0", -1, 0, 0, 0)]
    [InlineData("", -1, 0, 0, 0)]
    public void Parses_the_kernel_form_and_rejects_the_rest(string text, int domain, int bus, int device, int function)
    {
        var ok = PciAddress.TryParse(text, out var address);
        Assert.Equal(domain >= 0, ok);
        if (ok)
        {
            Assert.Equal(new PciAddress(domain, bus, device, function), address);
            Assert.Equal(text.Length == 7 ? "0000:" + text : text, address.ToString());
        }
    }

    [Theory]
    [InlineData("0000:3b:00.0", "0000:3b:00.1", true)]
    [InlineData("0000:3b:00.0", "0000:3b:00.0", true)]
    [InlineData("0000:3b:00.0", "0000:3b:01.0", false)]
    [InlineData("0000:3b:00.0", "0000:3c:00.0", false)]
    [InlineData("0000:3b:00.0", "0001:3b:00.1", false)]
    public void The_functions_of_one_device_are_one_adapter(string a, string b, bool same)
    {
        Assert.Equal(same, PciAddress.Parse(a).SameAdapterAs(PciAddress.Parse(b)));
        Assert.Equal(same, PciAddress.Parse(b).SameAdapterAs(PciAddress.Parse(a)));
    }

    [Fact]
    public void Sriov_offset_and_stride_count_in_routing_ids()
    {
        // An 82599 PF at 08:00.0 with offset 0x80 and stride 2: VF 0 at 08:10.0, VF 1 at 08:10.2.
        var pf = PciAddress.Parse("0000:08:00.0");
        Assert.Equal(PciAddress.Parse("0000:08:10.0"), PciAddress.FromRoutingId(0, pf.RoutingId + 0x80));
        Assert.Equal(PciAddress.Parse("0000:08:10.2"), PciAddress.FromRoutingId(0, pf.RoutingId + 0x80 + 2));
        // Past function 7 of device 0x1f the next VF is on the next bus.
        Assert.Equal(PciAddress.Parse("0000:09:00.0"), PciAddress.FromRoutingId(0, PciAddress.Parse("0000:08:1f.7").RoutingId + 1));
    }

    [Fact]
    public void Orders_by_domain_then_bus_device_function()
    {
        var sorted = new[] { "0001:00:00.0", "0000:86:00.0", "0000:08:10.1", "0000:08:10.0" }.Select(PciAddress.Parse).Order().Select(a => a.ToString());
        Assert.Equal(["0000:08:10.0", "0000:08:10.1", "0000:86:00.0", "0001:00:00.0"], sorted);
    }

    [Theory]
    [InlineData("8086:10fb", 0x8086, 0x10fb)]
    [InlineData("15B3:1017", 0x15b3, 0x1017)]
    public void Pci_ids_parse_as_vendor_device(string text, int vendor, int device)
    {
        Assert.Equal(new PciId((ushort)vendor, (ushort)device), PciId.Parse(text));
        Assert.Equal(text.ToLowerInvariant(), PciId.Parse(text).ToString());
    }
}
