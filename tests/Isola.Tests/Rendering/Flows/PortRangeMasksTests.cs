using FsCheck;
using FsCheck.Fluent;
using Isola.Rendering.Flows;

namespace Isola.Tests.Rendering.Flows;

public class PortRangeMasksTests
{
    [Fact]
    public void A_single_port_is_an_exact_match_and_an_aligned_block_one_mask()
    {
        Assert.Equal(["tp_dst=80"], PortRangeMasks.Matches("tp_dst", 80, 80));
        Assert.Equal(["tp_dst=0x400/0xfc00"], PortRangeMasks.Matches("tp_dst", 1024, 2047));
        Assert.Equal(["tp_dst=0x3e8/0xfff8", "tp_dst=0x3f0/0xfff0", "tp_dst=0x400/0xfffe"], PortRangeMasks.Matches("tp_dst", 1000, 1025));
    }

    [Fact]
    public void The_blocks_cover_exactly_the_range()
    {
        var gen = from a in Gen.Choose(0, 65535) from b in Gen.Choose(0, 65535) select (Math.Min(a, b), Math.Max(a, b));
        Prop.ForAll(gen.ToArbitrary(), range =>
        {
            var (min, max) = range;
            var blocks = PortRangeMasks.Blocks(min, max).ToList();
            bool Covered(int port) => blocks.Any(b => (port & b.Mask) == b.Value);
            // Every port in the range is covered by exactly one block; the ports around it by none.
            var inside = Enumerable.Range(min, max - min + 1).Where((_, i) => i % 97 == 0 || min + i == max)
                .All(p => blocks.Count(b => (p & b.Mask) == b.Value) == 1);
            var outside = (min == 0 || !Covered(min - 1)) && (max == 65535 || !Covered(max + 1));
            var sizes = blocks.Sum(b => 0x10000L - b.Mask) == max - min + 1;
            return inside && outside && sizes && blocks.Count <= 30;
        }).QuickCheckThrowOnFailure();
    }
}
