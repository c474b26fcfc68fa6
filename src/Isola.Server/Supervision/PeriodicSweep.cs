namespace Isola.Server.Supervision;

/// <summary>The loop of a background sweeper: wait, sweep, log a failed pass and go on, stop quietly on shutdown.</summary>
internal static class PeriodicSweep
{
    /// <param name="failed">Logs a failed pass (each sweeper its own message, so log searches keyed on it keep working).</param>
    public static async Task RunAsync(TimeSpan every, TimeProvider time, Func<CancellationToken, Task> sweep, Action<Exception> failed, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stoppingToken);
                await sweep(stoppingToken);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return; // stopping: whatever the pass in flight threw on the way out is no failure
            }
            catch (Exception e)
            {
                failed(e);
            }
        }
    }
}
