using System.Globalization;
using Isola.Store.Lifecycle;

namespace Isola.Server.Supervision;

/// <summary>
/// Whether a host's agent reports, in the API's words. An agent reports at least every 10 s (its long
/// poll ends after 10 s at the latest); one silent for <see cref="Silence"/> is down.
/// </summary>
public static class AgentLiveness
{
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(30);

    /// <summary><c>up</c>, <c>down</c> or <c>never-reported</c>.</summary>
    public static string Agent(AgentStatus? agent, DateTimeOffset now) =>
        agent?.Heartbeat is null ? "never-reported" : IsSilent(agent.Heartbeat, now) || agent.DownAt is not null ? "down" : "up";

    /// <summary>
    /// A server's <c>hostStatus</c>, as Nova's <c>host_status</c>: MAINTENANCE when an operator
    /// disabled the host (their word first), UNKNOWN when its agent never reported, DOWN when it fell
    /// silent, UP otherwise; null for a server on no host.
    /// </summary>
    public static string? HostStatus(AgentStatus? agent, DateTimeOffset now) => agent switch
    {
        null => null,
        { Enabled: false } => "MAINTENANCE",
        { Heartbeat: null } => "UNKNOWN",
        _ when IsSilent(agent.Heartbeat, now) || agent.DownAt is not null => "DOWN",
        _ => "UP",
    };

    private static bool IsSilent(string heartbeat, DateTimeOffset now) => now - DateTimeOffset.Parse(heartbeat, CultureInfo.InvariantCulture) > Silence;
}
