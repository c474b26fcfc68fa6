using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling.Pipeline;

public class ScheduleProbeTests
{
    private sealed class Recorder : IScheduleProbe
    {
        public List<string> Events { get; } = [];

        public void Begin() => Events.Add("begin");

        public void Lap(ScheduleStage stage) => Events.Add(stage.ToString());

        public void Walked(bool byMemory, HostState? last) => Events.Add($"walked {(byMemory ? "memory" : "threads")} to {last?.Name ?? "none"}");
    }

    [Fact]
    public void A_probe_sees_every_stage_in_order_and_the_decision_is_the_same_without_it()
    {
        var fleet = new FleetState();
        fleet.AddHost(new HostBuilder("small").Cores(2).Pages1G(8).Build());
        fleet.AddHost(new HostBuilder("big").Cores(8).Pages1G(8).Build());
        var recorder = new Recorder();
        var request = Request("vm", Dedicated(4, 1024));

        var probed = new Scheduler(fleet, recorder).Schedule(request);
        var plain = new Scheduler(fleet).Schedule(request);

        Assert.Equal(plain.Placement!.Host, probed.Placement!.Host);
        Assert.Equal(plain.Placement.Score, probed.Placement.Score);
        Assert.Equal(
            ["begin", "Context", "IndexCount", "IndexWalk", "Filters", "NumaFit", "Scorers", "PlacementRecord", "IndexWalk", "walked threads to big", "Result"],
            recorder.Events);
    }
}
