using System.Globalization;

namespace Isola.Bench;

/// <summary>The command line: which fleets, which request shapes, how many decisions.</summary>
internal sealed record BenchOptions(int[] Hosts, Shape[] Shapes, int Decisions, int? NaiveDecisions, int Seed, bool Breakdown)
{
    public const int Warmup = 1000;

    public const string Usage =
        "usage: Isola.Bench [--hosts 1000,10000,100000] [--shapes S,N,G] [--decisions 20000] [--naive-decisions auto|N] [--seed 42] [--breakdown]";

    /// <summary>Naive decisions for "auto": the full scan is slow, so fewer at bigger fleets.</summary>
    public int NaiveDecisionsFor(int hosts) => NaiveDecisions ?? hosts switch
    {
        <= 1_000 => 2_000,
        <= 10_000 => 300,
        _ => 30,
    };

    /// <summary>Warm-up of the naive scan: one naive decision already runs every host check thousands of times.</summary>
    public static int NaiveWarmupFor(int decisions) => Math.Min(Warmup, Math.Max(3, decisions / 10));

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions([1_000, 10_000, 100_000], [Shape.S, Shape.N, Shape.G], 20_000, null, 42, false);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--hosts" => options with { Hosts = [.. Value().Split(',').Select(Int)] },
                "--shapes" => options with { Shapes = [.. Value().Split(',').Select(s => Enum.Parse<Shape>(s.Trim(), ignoreCase: true))] },
                "--decisions" => options with { Decisions = Int(Value()) },
                "--naive-decisions" => Value() is var v && v == "auto" ? options with { NaiveDecisions = null } : options with { NaiveDecisions = Int(v) },
                "--seed" => options with { Seed = Int(Value()) },
                "--breakdown" => options with { Breakdown = true },
                _ => throw new ArgumentException($"unknown argument '{args[i]}'"),
            };
        }
        return options;
    }

    private static int Int(string text) =>
        int.TryParse(text.Trim().Replace("_", "", StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"'{text}' is not a positive whole number");
}
