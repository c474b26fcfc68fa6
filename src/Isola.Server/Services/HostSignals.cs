using System.Collections.Concurrent;

namespace Isola.Server.Services;

/// <summary>
/// Wakes the agents' long polls of a host when its desired state changed in this process. Other
/// processes' changes are seen by the polls' periodic look at the store.
/// </summary>
public sealed class HostSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _next = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _taken = new(StringComparer.Ordinal);

    /// <summary>Completes at the next <see cref="Notify"/> of the host. Take it before reading the state it guards.</summary>
    public Task Next(string host)
    {
        _taken.AddOrUpdate(host, 1, (_, n) => n + 1);
        return _next.GetOrAdd(host, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    /// <summary>How often <see cref="Next"/> was taken for the host: a test tells by it that a long poll got past its checks and looks.</summary>
    internal long Taken(string host) => _taken.GetValueOrDefault(host);

    public void Notify(string host)
    {
        if (_next.TryRemove(host, out var waiting))
            waiting.TrySetResult();
    }
}
