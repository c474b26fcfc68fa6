namespace Isola.Store.Lifecycle;

/// <summary>Task states: what a server is on its way to (Nova's words).</summary>
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
    /// <summary>A stop: desired power state shutoff, waiting for the domain to be shut off.</summary>
    public const string PoweringOff = "powering-off";
    /// <summary>A pause: desired power state paused, waiting for the domain to be paused.</summary>
    public const string Pausing = "pausing";
    /// <summary>An unpause: desired power state running, waiting for the domain to run.</summary>
    public const string Unpausing = "unpausing";
    /// <summary>A soft reboot, first half: the guest asked to shut down (cleanly until the server's shutdown deadline).</summary>
    public const string RebootPending = "reboot_pending";
    /// <summary>A soft reboot, second half: shut off; desired running again.</summary>
    public const string RebootStarted = "reboot_started";
    /// <summary>A hard reboot, first half: the domain powered off.</summary>
    public const string RebootPendingHard = "reboot_pending_hard";
    /// <summary>A hard reboot, second half: shut off; desired running again.</summary>
    public const string RebootStartedHard = "reboot_started_hard";
    /// <summary>A rebuild, first half: the domain powered off, its disk and config drive made again from the server's plan.</summary>
    public const string Rebuilding = "rebuilding";
    /// <summary>A rebuild, second half: the new disk is in place; desired running again.</summary>
    public const string RebuildSpawning = "rebuild_spawning";
    /// <summary>A resize or migration, first half: the new placement claimed; the guest shut down on the source (and its disk sent, between hosts).</summary>
    public const string ResizeMigrating = "resize_migrating";
    /// <summary>A resize or migration, second half: the domain defined from the new plan (its disk received, between hosts); desired running.</summary>
    public const string ResizeFinish = "resize_finish";
    /// <summary>A revert: the domain on the new placement shut down, then the old one started again.</summary>
    public const string ResizeReverting = "resize_reverting";
}

/// <summary>Power states: desired (what the server tells the agent) and reported (what libvirt says).</summary>
public static class PowerState
{
    public const string Paused = "paused";
    public const string Running = "running";
    /// <summary>Reported only: the host has no such domain.</summary>
    public const string Absent = "absent";
    /// <summary>Reported: the domain is defined, not started. Desired: it stays so (the agent does not start it, and takes down one that runs).</summary>
    public const string Shutoff = "shutoff";

    public static bool IsReportable(string? state) => state is Paused or Running or Absent or Shutoff;
}

/// <summary>Where a server stands: its row, and what its host's agent last reported of it and its ports.</summary>
/// <param name="PowerAfter">The desired power state the action in progress ends in (a rebuild of a SHUTOFF server: shutoff); null: none.</param>
/// <param name="DiskCurrent">Whether the agent reported the server's disk made at its current plan version (a rebuild waits for it).</param>
public sealed record LifecycleState(string Status, string? TaskState, string PowerState, string? VmState, IReadOnlyList<string> PortStatuses,
    string? PowerAfter = null, bool DiskCurrent = true);

/// <summary>Where it goes next; <see cref="DesiredChanged"/> when its host's agent has something new to do.</summary>
public sealed record LifecycleStep(string Status, string? TaskState, string PowerState, bool DesiredChanged);

/// <summary>
/// A server's way through its life, as a pure function of what is known.
/// <para>BUILD: the domain is defined paused, the server stays paused until every port is ACTIVE (the
/// VFs are programmed before the guest sees its NICs), then the desired power state becomes running,
/// and once the agent reports it running the server is ACTIVE. A domain shut off while the server
/// builds is the agent's own define, start, resume sequence (or its crash in between): the build goes on.</para>
/// <para>After it, every action sets a desired power state and a task (<see cref="ServerActions"/>), and
/// the reports finish it: an ACTIVE (or PAUSED) server whose domain is reported shut off is SHUTOFF, its
/// desired power state shutoff, so the agent leaves it off — a stop, or its guest's own poweroff (as
/// Nova's power-state sync stops an instance found shut down); a SHUTOFF server told to run is ACTIVE
/// once reported running; pause and unpause end when the domain is paused or running. A reboot and a
/// rebuild go through shut off: desired shutoff until reported so (a rebuild also until the agent
/// reports the new disk), then desired running until reported running — the same way Nova's libvirt
/// driver reboots (a clean shutdown and a start; hard: a power off).</para>
/// Timeouts are not here: <c>BuildTimeouts</c> moves overdue builds to ERROR, <c>ShutdownTimeouts</c>
/// turns an overdue clean shutdown into a power off.
/// </summary>
public static class ServerLifecycle
{
    public static LifecycleStep Next(LifecycleState s) => s.Status switch
    {
        ServerStatus.Build => Building(s),
        ServerStatus.Active or ServerStatus.Paused when s.VmState == PowerState.Shutoff => new(ServerStatus.Shutoff, null, PowerState.Shutoff, true),
        ServerStatus.Active when s.TaskState == TaskState.Pausing && s.VmState == PowerState.Paused => new(ServerStatus.Paused, null, PowerState.Paused, false),
        ServerStatus.Paused when s.PowerState == PowerState.Running && s.VmState == PowerState.Running => new(ServerStatus.Active, null, PowerState.Running, false),
        ServerStatus.Shutoff when s.PowerState == PowerState.Running => s.VmState == PowerState.Running
            ? new(ServerStatus.Active, null, PowerState.Running, false)
            : new(ServerStatus.Shutoff, TaskState.PoweringOn, PowerState.Running, false),
        ServerStatus.Reboot or ServerStatus.HardReboot => Rebooting(s),
        ServerStatus.Rebuild => Rebuilding(s),
        ServerStatus.Resize => Resizing(s),
        ServerStatus.RevertResize => Reverting(s),
        _ => Stay(s),
    };

    private static LifecycleStep Stay(LifecycleState s) => new(s.Status, s.TaskState, s.PowerState, false);

    private static LifecycleStep Rebooting(LifecycleState s)
    {
        var hard = s.Status == ServerStatus.HardReboot;
        if (s.PowerState == PowerState.Shutoff)
        {
            return s.VmState == PowerState.Shutoff
                ? new(s.Status, hard ? TaskState.RebootStartedHard : TaskState.RebootStarted, PowerState.Running, true)
                : Stay(s);
        }
        return s.VmState == PowerState.Running ? new(ServerStatus.Active, null, PowerState.Running, false) : Stay(s);
    }

    private static LifecycleStep Rebuilding(LifecycleState s)
    {
        if (s.PowerState == PowerState.Shutoff)
        {
            if (s.VmState != PowerState.Shutoff || !s.DiskCurrent)
                return Stay(s);
            // A SHUTOFF server rebuilt stays shut off, as in Nova.
            return s.PowerAfter == PowerState.Shutoff
                ? new(ServerStatus.Shutoff, null, PowerState.Shutoff, false)
                : new(ServerStatus.Rebuild, TaskState.RebuildSpawning, PowerState.Running, true);
        }
        return s.VmState == PowerState.Running ? new(ServerStatus.Active, null, PowerState.Running, false) : Stay(s);
    }

    /// <summary>
    /// A resize: desired shut off until the domain is (on the source; between hosts the report of the source's
    /// agent and the disk it sends carry it on: <c>ServerMoveStore</c>), then — the domain defined from the new
    /// plan before it starts — desired running until it runs: VERIFY_RESIZE. A SHUTOFF server resized stays shut off.
    /// </summary>
    private static LifecycleStep Resizing(LifecycleState s)
    {
        if (s.TaskState == TaskState.ResizeMigrating)
        {
            if (s.VmState != PowerState.Shutoff)
                return Stay(s);
            // Within a host the disk is where it was: a SHUTOFF server is resized once its domain is (defined again before it next starts).
            return s.PowerAfter == PowerState.Shutoff
                ? new(ServerStatus.VerifyResize, null, PowerState.Shutoff, false)
                : new(ServerStatus.Resize, TaskState.ResizeFinish, PowerState.Running, true);
        }
        // The second half: running until it runs; a SHUTOFF server's until its domain is defined shut off on the new host
        // (its disk made there first: the agent defines a domain only once its disk is in place).
        if (s.PowerState == PowerState.Shutoff)
            return s.VmState == PowerState.Shutoff ? new(ServerStatus.VerifyResize, null, PowerState.Shutoff, false) : Stay(s);
        return s.VmState == PowerState.Running ? new(ServerStatus.VerifyResize, null, PowerState.Running, false) : Stay(s);
    }

    /// <summary>A revert: desired shut off until the domain is (on the new placement's host, or already, on the old one's), then running on the old plan: ACTIVE (or SHUTOFF, as it was).</summary>
    private static LifecycleStep Reverting(LifecycleState s)
    {
        if (s.PowerState == PowerState.Shutoff)
        {
            if (s.VmState != PowerState.Shutoff)
                return Stay(s);
            return s.PowerAfter == PowerState.Shutoff
                ? new(ServerStatus.Shutoff, null, PowerState.Shutoff, false)
                : new(ServerStatus.RevertResize, TaskState.ResizeReverting, PowerState.Running, true);
        }
        return s.VmState == PowerState.Running ? new(ServerStatus.Active, null, PowerState.Running, false) : Stay(s);
    }

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

    /// <summary>Every status a port may have.</summary>
    public static IReadOnlyList<string> All { get; } = [Down, Bound, Active, Error];

    /// <summary>What an agent may report.</summary>
    public static bool IsReportable(string? status) => status is Active or Down or Error;
}
