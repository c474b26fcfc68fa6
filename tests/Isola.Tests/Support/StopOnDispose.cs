namespace Isola.Tests.Support;

/// <summary>
/// Stops a command a test runs in the background (<c>isola up</c>, <c>isola agent</c>) when the test
/// ends, however it ends: cancelled and waited for, so neither it nor its server's sweeps outlive the
/// test's directory.
/// </summary>
internal sealed class StopOnDispose(CancellationTokenSource stop, Task run) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // the test asserted on its outcome if it cared
    }
}
