using Isola.Server.Services;
using Isola.Server.Settings;
using Isola.Store.Lifecycle;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Supervision;

/// <summary>
/// Turns a clean shutdown (a stop, soft reboot or rebuild asking the guest, by ACPI) that took longer
/// than the shutdown timeout into a power off, as Nova's clean shutdown falls back to destroying the
/// domain: the server's desired shutdown becomes hard and its host's agent is told.
/// </summary>
public sealed class ShutdownTimeouts(ServerActionStore actions, HostSignals signals, TimeProvider time, ServerSettings settings, ILogger<ShutdownTimeouts> log)
    : BackgroundService
{
    /// <summary>One pass; answers the hosts whose agents now power off a domain.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(CancellationToken ct = default)
    {
        var hosts = await actions.ExpireCleanShutdownsAsync();
        foreach (var host in hosts)
        {
            signals.Notify(host);
            log.LogWarning("a guest on {Host} did not shut down within {Timeout} s: its domain is powered off", host, settings.ShutdownTimeoutSeconds);
        }
        return hosts;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromSeconds(Math.Clamp(settings.ShutdownTimeoutSeconds / 10.0, 0.5, 5));
        await PeriodicSweep.RunAsync(every, time, SweepAsync, e => log.LogError(e, "shutdown timeout sweep failed; trying again"), stoppingToken);
    }
}
