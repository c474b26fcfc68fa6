using System.Diagnostics;

namespace Isola.Tests.Support;

/// <summary>
/// Waits for a condition the system under test reaches in its own time (an agent's cycle, a long
/// poll): looked at every 50 ms under a generous deadline, so a loaded machine is slow, never red.
/// A test that waits for a condition waits here, not for a fixed number of tries.
/// </summary>
internal static class Eventually
{
    /// <summary>Long enough for a loaded CI runner; a condition that holds ends the wait at once.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(50);

    /// <summary>Reads until <paramref name="done"/> holds for what was read, and answers that; fails naming <paramref name="what"/> and the last value.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? deadline = null)
    {
        var limit = deadline ?? Deadline;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value))
                return value;
            if (clock.Elapsed > limit)
                Assert.Fail($"not {what} after {limit.TotalSeconds:0} s (last: {value})");
            await Task.Delay(Every);
        }
    }

    public static Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? deadline = null) =>
        UntilAsync(condition, held => held, what, deadline);

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? deadline = null) =>
        UntilAsync(() => Task.FromResult(condition()), held => held, what, deadline);
}
