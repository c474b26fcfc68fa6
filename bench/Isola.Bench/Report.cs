using System.Globalization;
using System.Text;

namespace Isola.Bench;

/// <summary>One Markdown table per shape: a row per (host count, scheduler), engine/naive ratios on the engine row.</summary>
internal static class Report
{
    public static string Table(Shape shape, int capacityPerHost, IReadOnlyList<(RunResult Engine, RunResult Naive)> runs)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Inv($"### Shape {shape}: {RequestFactory.Description(shape)}"));
        sb.AppendLine();
        sb.AppendLine(Inv($"Capacity {capacityPerHost} servers per host (probed on 4 hosts); filled to half, then each decision is followed by a claim and a random release."));
        sb.AppendLine();
        sb.AppendLine("| hosts | scheduler | build (s) | heap after build MiB | fleet bytes/host | filled | decisions | p50 µs | p99 µs | p99.9 µs | max µs | placements/s | failures | hosts evaluated | KiB alloc/decision | p50 engine/naive | placements/s engine/naive |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (engine, naive) in runs)
        {
            var p50Ratio = engine.Samples.PercentileMicros(0.5) / naive.Samples.PercentileMicros(0.5);
            var rateRatio = engine.Samples.PlacementsPerSecond / naive.Samples.PlacementsPerSecond;
            sb.AppendLine(Row(engine, Inv($"{p50Ratio:0.######} (1/{1 / p50Ratio:n0})"), Inv($"{rateRatio:n0}")));
            sb.AppendLine(Row(naive, "", ""));
        }
        return sb.ToString();
    }

    private static string Row(RunResult r, string p50Ratio, string rateRatio)
    {
        var s = r.Samples;
        return Inv($"| {r.Hosts:n0} | {r.Scheduler} | {r.BuildSeconds:f2} | {r.HeapBytesAfterBuild / 1048576.0:n0} | {r.FleetBytes / (double)r.Hosts:n0} | {r.Filled:n0} | {s.Count:n0} | ") +
            Inv($"{s.PercentileMicros(0.5):n1} | {s.PercentileMicros(0.99):n1} | {s.PercentileMicros(0.999):n1} | {s.PercentileMicros(1):n1} | ") +
            Inv($"{s.PlacementsPerSecond:n0} | {s.Failures} | {s.MeanHostsEvaluated:n1} | {s.AllocatedKiBPerDecision:n1} | {p50Ratio} | {rateRatio} |");
    }

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
