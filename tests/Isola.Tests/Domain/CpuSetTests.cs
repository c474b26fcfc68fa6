using FsCheck;
using FsCheck.Fluent;
using Isola.Domain.Cpu;

namespace Isola.Tests.Domain;

public class CpuSetTests
{
    [Theory]
    [InlineData("0-3,8,10-11", new[] { 0, 1, 2, 3, 8, 10, 11 }, "0-3,8,10-11")]
    [InlineData("5,4,3", new[] { 3, 4, 5 }, "3-5")]
    [InlineData(" 1 , 1 ", new[] { 1 }, "1")]
    [InlineData("", new int[0], "")]
    [InlineData("2-2", new[] { 2 }, "2")]
    [InlineData("0-1,1-2\n", new[] { 0, 1, 2 }, "0-2")]
    public void Parses_kernel_cpulists_and_prints_them_canonically(string text, int[] ids, string canonical)
    {
        var set = CpuSet.Parse(text);
        Assert.Equal(ids, set.ToArray());
        Assert.Equal(canonical, set.ToString());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("3-1")]
    [InlineData("1-")]
    [InlineData("-1")]
    [InlineData("1,,2")]
    [InlineData("0x3")]
    public void Rejects_what_is_not_a_cpulist(string text)
    {
        Assert.False(CpuSet.TryParse(text, out _, out var error));
        Assert.Contains(text.Trim(), error, StringComparison.Ordinal);
    }

    [Fact]
    public void Set_algebra_matches_linq_on_the_ids()
    {
        var gen = Gen.Choose(0, 200).ListOf().Select(ids => ids.ToArray());
        Prop.ForAll(gen.ToArbitrary(), gen.ToArbitrary(), (a, b) =>
        {
            var x = CpuSet.Of(a);
            var y = CpuSet.Of(b);
            return x.Union(y).SequenceEqual(a.Union(b).Distinct().Order())
                   && x.Except(y).SequenceEqual(a.Except(b).Distinct().Order())
                   && x.Intersect(y).SequenceEqual(a.Intersect(b).Distinct().Order())
                   && CpuSet.Parse(x.ToString()).Equals(x)
                   && x.IsSubsetOf(x.Union(y));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Equal_sets_are_equal_and_hash_alike()
    {
        Assert.Equal(CpuSet.Parse("0-3"), CpuSet.Of(3, 2, 1, 0));
        Assert.Equal(CpuSet.Parse("0-3").GetHashCode(), CpuSet.Of(3, 2, 1, 0).GetHashCode());
        Assert.NotEqual(CpuSet.Parse("0-3"), CpuSet.Parse("0-4"));
    }

    [Fact]
    public void A_range_up_to_the_largest_id_ends()
    {
        Assert.Equal(8, CpuSet.Parse("2147483640-2147483647").Count);
    }
}
