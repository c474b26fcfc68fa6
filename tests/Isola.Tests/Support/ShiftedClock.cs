namespace Isola.Tests.Support;

/// <summary>The system clock moved forward on demand; timers and delays stay real.</summary>
public sealed class ShiftedClock : TimeProvider
{
    private long _ticks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
}
