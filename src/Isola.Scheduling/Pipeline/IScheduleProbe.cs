using Isola.Scheduling.State;

namespace Isola.Scheduling.Pipeline;

/// <summary>The parts of one <see cref="Scheduler.Schedule"/> a probe is told about, in the order they run.</summary>
public enum ScheduleStage
{
    Context,
    IndexCount,
    IndexWalk,
    Filters,
    NumaFit,
    Rejections,
    Scorers,
    PlacementRecord,
    Result,
}

/// <summary>
/// Told where a decision is (diagnostics: the bench's stage breakdown). The scheduler without one
/// pays one null check per stage. A probe only observes: the decision is the same with or without it.
/// </summary>
public interface IScheduleProbe
{
    /// <summary>A decision starts.</summary>
    void Begin();

    /// <summary>The stage named has just ended (the walk ends once per candidate and once after the last).</summary>
    void Lap(ScheduleStage stage);

    /// <summary>The walk is over: its order and the last host it reached (null: none).</summary>
    void Walked(bool byMemory, HostState? last);
}
