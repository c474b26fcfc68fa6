using Isola.Agent.Driver;
using Isola.Contracts.Agent;

namespace Isola.Agent;

/// <summary>
/// The servers' serial console logs (libvirt's virtlogd writes each to its instance directory): after
/// a cycle, the tail of each log that changed since it was last sent goes to the controller, which
/// serves it (<c>isola server console log</c>). At most <see cref="MaxBytes"/> of each, from a whole line. A 404 (the
/// server left the host since the desired state was read) is no failure: the next desired state no longer holds it.
/// </summary>
public sealed class ConsoleLogs(InstanceStorage storage, ControllerClient controller)
{
    /// <summary>The most of a log sent (and kept by the controller): its last 64 KiB.</summary>
    public const int MaxBytes = 64 * 1024;

    private readonly Dictionary<string, (long Length, DateTime Written)> _sent = new(StringComparer.Ordinal);

    /// <summary>Sends what changed; answers what could not be read or sent (tried again after the next cycle).</summary>
    public async Task<IReadOnlyList<string>> SendChangedAsync(DesiredHost desired, CancellationToken ct)
    {
        var failures = new List<string>();
        var here = new HashSet<string>(StringComparer.Ordinal);
        foreach (var server in desired.Servers)
        {
            if (server.Plan?.Files?.ConsoleLog is not { } path)
                continue;
            here.Add(server.Id);
            if (storage.Stamp(path) is not { } stamp || _sent.GetValueOrDefault(server.Id) == stamp)
                continue;
            try
            {
                if (storage.Tail(path, MaxBytes) is { } text)
                {
                    await controller.PutConsoleLogAsync(server.Id, text, ct);
                    _sent[server.Id] = stamp;
                }
            }
            catch (HttpRequestException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                // The server left the host after the desired state was read (deleted, moved): its log is no one's to send now.
                _sent[server.Id] = stamp;
            }
            catch (Exception e) when (e is DriverException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                failures.Add($"console log of {server.Id}: {e.Message}");
            }
        }
        foreach (var gone in _sent.Keys.Where(id => !here.Contains(id)).ToList())
            _sent.Remove(gone);
        return failures;
    }
}
