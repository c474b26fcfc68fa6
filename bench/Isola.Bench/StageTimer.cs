using System.Diagnostics;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>
/// A stopwatch and an allocation counter between the stages of the real <see cref="Scheduler"/>
/// (its <see cref="IScheduleProbe"/>), summed over the decisions it sees.
/// </summary>
internal sealed class StageTimer : IScheduleProbe
{
    private long _tick;
    private long _bytes;

    public long[] Ticks { get; } = new long[Enum.GetValues<ScheduleStage>().Length];

    public long[] Bytes { get; } = new long[Enum.GetValues<ScheduleStage>().Length];

    /// <summary>Index buckets the walks stepped through (most are empty).</summary>
    public long BucketsWalked { get; private set; }

    public void Clear()
    {
        Array.Clear(Ticks);
        Array.Clear(Bytes);
        BucketsWalked = 0;
    }

    public void Begin()
    {
        _bytes = GC.GetAllocatedBytesForCurrentThread();
        _tick = Stopwatch.GetTimestamp();
    }

    public void Lap(ScheduleStage stage)
    {
        var now = Stopwatch.GetTimestamp();
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        Ticks[(int)stage] += now - _tick;
        Bytes[(int)stage] += bytes - _bytes;
        _bytes = GC.GetAllocatedBytesForCurrentThread();
        _tick = Stopwatch.GetTimestamp();
    }

    public void Walked(bool byMemory, HostState? last)
    {
        var top = byMemory ? HostIndex.MaxMemoryKey : HostIndex.MaxThreadsKey;
        var lastKey = last is null ? top : byMemory ? HostIndex.MemoryKey(last) : HostIndex.ThreadsKey(last);
        BucketsWalked += top - lastKey + 1;
    }
}
