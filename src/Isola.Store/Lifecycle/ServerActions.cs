namespace Isola.Store.Lifecycle;

/// <summary>What an action sets on a server as it begins: status, task, desired power state, and how the domain goes down.</summary>
/// <param name="PowerAfter">The desired power state the action ends in, when it goes through shut off (a rebuild); null: what its last step says.</param>
/// <param name="CleanShutdown">Whether the guest is asked to shut down (ACPI) until the shutdown deadline, rather than powered off at once.</param>
public sealed record ActionStart(string Status, string TaskState, string PowerState, string? PowerAfter = null, bool CleanShutdown = false);

/// <summary>
/// The server actions after the create (Nova's server actions and their state checks): from which
/// status each may begin — only with no task in progress, but a hard reboot also over a soft one — and
/// what it sets. The reports then carry the server on (<see cref="ServerLifecycle"/>).
/// </summary>
public static class ServerActions
{
    public const string Create = "create";
    public const string Stop = "stop";
    public const string Start = "start";
    public const string Reboot = "reboot";
    public const string Pause = "pause";
    public const string Unpause = "unpause";
    public const string Rebuild = "rebuild";
    public const string Delete = "delete";
    public const string Resize = "resize";
    public const string Migrate = "migrate";
    public const string ConfirmResize = "confirmResize";
    public const string RevertResize = "revertResize";
    public const string Evacuate = "evacuate";

    /// <summary>The actions a caller may ask for through <c>POST /v1/servers/{id}/action</c>.</summary>
    public static IReadOnlyList<string> Requestable { get; } = [Stop, Start, Reboot, Pause, Unpause, Rebuild, Resize, Migrate, ConfirmResize, RevertResize, Evacuate];

    /// <summary>
    /// Whether a resize or migration (from ACTIVE or SHUTOFF), or a confirm (from VERIFY_RESIZE) or revert (from VERIFY_RESIZE, or a RESIZE that is stuck) of one, may begin
    /// on a server in <paramref name="status"/> with <paramref name="task"/>; else why not (Nova's state checks).
    /// </summary>
    public static bool MayMove(string action, string status, string? task, out string? refusal)
    {
        var allowed = action switch
        {
            Resize or Migrate => task is null && status is ServerStatus.Active or ServerStatus.Shutoff,
            ConfirmResize => task is null && status == ServerStatus.VerifyResize,
            // Also a move that does not go on (its source's agent gone before the disk was sent, a disk the destination
            // cannot fetch): a revert is the way back, to the placement it left (Nova has only reset-state for that).
            RevertResize => (task is null && status == ServerStatus.VerifyResize) || status == ServerStatus.Resize,
            _ => false,
        };
        refusal = allowed ? null
            : action is ConfirmResize or RevertResize && status is not (ServerStatus.VerifyResize or ServerStatus.Resize) && task is null
                ? $"cannot {(action == ConfirmResize ? "confirm" : "revert")} a resize: the server is {status}, not VERIFY_RESIZE"
                : $"cannot {action} the server while it is {status}{(task is null ? "" : $" with task {task}")}";
        return allowed;
    }

    /// <summary>
    /// How <paramref name="action"/> begins on a server in <paramref name="status"/> with <paramref name="task"/>,
    /// or null with the reason it may not (Nova's 409 "Cannot 'stop' instance while it is in vm_state stopped").
    /// </summary>
    public static ActionStart? Begin(string action, string status, string? task, bool hard, out string? refusal)
    {
        refusal = null;
        var idle = task is null;
        ActionStart? start = action switch
        {
            Stop when idle && status is ServerStatus.Active or ServerStatus.Paused =>
                // A paused guest cannot answer an ACPI request: it is powered off.
                new(status, TaskState.PoweringOff, PowerState.Shutoff, CleanShutdown: status == ServerStatus.Active),
            Start when idle && status == ServerStatus.Shutoff => new(status, TaskState.PoweringOn, PowerState.Running),
            Reboot when hard && ((idle && status is ServerStatus.Active or ServerStatus.Shutoff or ServerStatus.Paused) || status == ServerStatus.Reboot) =>
                new(ServerStatus.HardReboot, TaskState.RebootPendingHard, PowerState.Shutoff),
            Reboot when !hard && idle && status == ServerStatus.Active => new(ServerStatus.Reboot, TaskState.RebootPending, PowerState.Shutoff, CleanShutdown: true),
            Pause when idle && status == ServerStatus.Active => new(status, TaskState.Pausing, PowerState.Paused),
            Unpause when idle && status == ServerStatus.Paused => new(status, TaskState.Unpausing, PowerState.Running),
            Rebuild when idle && status is ServerStatus.Active or ServerStatus.Shutoff =>
                new(ServerStatus.Rebuild, TaskState.Rebuilding, PowerState.Shutoff,
                    PowerAfter: status == ServerStatus.Shutoff ? PowerState.Shutoff : PowerState.Running, CleanShutdown: status == ServerStatus.Active),
            _ => null,
        };
        if (start is null)
        {
            var what = action == Reboot ? (hard ? "reboot --hard" : "reboot") : action;
            refusal = task is not null && !(hard && action == Reboot && status == ServerStatus.Reboot)
                ? $"cannot {what} the server while it is {status} with task {task}"
                : $"cannot {what} the server while it is {status}{(action == Reboot && !hard && status is ServerStatus.Shutoff or ServerStatus.Paused ? " (a hard reboot can)" : "")}";
        }
        return start;
    }
}
