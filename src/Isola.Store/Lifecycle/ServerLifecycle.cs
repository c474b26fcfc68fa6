namespace Isola.Store.Lifecycle;

/// <summary>Task states of a server in BUILD (Nova's words where Nova has one).</summary>
public static class TaskState
{
    /// <summary>Placed and claimed; in its host's desired state, waiting for the agent.</summary>
    public const string Scheduled = "scheduled";
    /// <summary>The agent defined the domain, paused; waiting for every port to be ACTIVE.</summary>
    public const string Spawning = "spawning";
    /// <summary>Every port is ACTIVE: the desired power state is running; waiting for the agent to resume it.</summary>
    public const string Resuming = "resuming";
    /// <summary>A SHUTOFF server asked to run again (desired power state running): waiting for the agent to start it.</summary>
    public const string PoweringOn = "powering-on";
}

/// <summary>Power states: desired (what the server tells the agent) and reported (what libvirt says).</summary>
public static class PowerState
{
    public const string Paused = "paused";
    public const string Running = "running";
    /// <summary>Reported only: the host has no such domain.</summary>
    public const string Absent = "absent";
    /// <summary>Reported: the domain is defined, not started. Desired: it stays so (the agent does not start it).</summary>
    public const string Shutoff = "shutoff";

    public static bool IsReportable(string? state) => state is Paused or Running or Absent or Shutoff;
}

/// <summary>Where a server stands: its row, and what its host's agent last reported of it and its ports.</summary>
public sealed record LifecycleState(string Status, string? TaskState, string PowerState, string? VmState, IReadOnlyList<string> PortStatuses);

/// <summary>Where it goes next; <see cref="DesiredChanged"/> when its host's agent has something new to do.</summary>
public sealed record LifecycleStep(string Status, string? TaskState, string PowerState, bool DesiredChanged);

/// <summary>
/// A server's way from BUILD to ACTIVE, as a pure function of what is known: the domain is defined
/// paused, the server stays paused until every port is ACTIVE (the VFs are programmed before the
/// guest sees its NICs), then the desired power state becomes running, and once the agent reports
/// it running the server is ACTIVE. An ACTIVE server whose domain is reported shut off was stopped by
/// its guest (or anyone but Isola): it is SHUTOFF, its desired power state shutoff, so the agent
/// leaves it off (as Nova's power-state sync stops an instance found shut down); a SHUTOFF server
/// whose desired power state is turned running again (a start) is ACTIVE once reported running. A
/// domain shut off while the server builds is the agent's own define, start, resume sequence (or its
/// crash in between): the build goes on. Timeouts are not here: <c>BuildTimeouts</c> moves overdue
/// servers (BUILD only) to ERROR.
/// </summary>
public static class ServerLifecycle
{
    public static LifecycleStep Next(LifecycleState s) => s.Status switch
    {
        ServerStatus.Build => Building(s),
        ServerStatus.Active when s.VmState == PowerState.Shutoff => new(ServerStatus.Shutoff, null, PowerState.Shutoff, true),
        ServerStatus.Shutoff when s.PowerState == PowerState.Running => s.VmState == PowerState.Running
            ? new(ServerStatus.Active, null, PowerState.Running, false)
            : new(ServerStatus.Shutoff, TaskState.PoweringOn, PowerState.Running, false),
        _ => new(s.Status, s.TaskState, s.PowerState, false),
    };

    private static LifecycleStep Building(LifecycleState s)
    {
        if (s.PowerState == PowerState.Running)
        {
            return s.VmState == PowerState.Running
                ? new(ServerStatus.Active, null, PowerState.Running, false)
                : new(ServerStatus.Build, TaskState.Resuming, PowerState.Running, false);
        }
        var defined = s.VmState is PowerState.Paused or PowerState.Running;
        if (!defined)
            return new(ServerStatus.Build, TaskState.Scheduled, PowerState.Paused, false);
        return s.PortStatuses.All(p => p == PortStatus.Active)
            ? new(ServerStatus.Build, TaskState.Resuming, PowerState.Running, true)
            : new(ServerStatus.Build, TaskState.Spawning, PowerState.Paused, false);
    }
}

/// <summary>Port statuses (Neutron's words).</summary>
public static class PortStatus
{
    public const string Down = "DOWN";
    public const string Bound = "BOUND";
    public const string Active = "ACTIVE";
    public const string Error = "ERROR";

    /// <summary>What an agent may report.</summary>
    public static bool IsReportable(string? status) => status is Active or Down or Error;
}
