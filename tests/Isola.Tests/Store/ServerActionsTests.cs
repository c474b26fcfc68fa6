using Isola.Store;
using Isola.Store.Lifecycle;

namespace Isola.Tests.Store;

/// <summary>Which action may begin from which status (Nova's state checks) and where the reports carry it (<see cref="ServerLifecycle"/>).</summary>
public sealed class ServerActionsTests
{
    private static ActionStart? Begin(string action, string status, string? task = null, bool hard = false) =>
        ServerActions.Begin(action, status, task, hard, out _);

    [Fact]
    public void Each_action_begins_only_from_the_statuses_nova_allows_and_never_over_a_task()
    {
        string[] all = [.. ServerStatus.All];
        var allowed = new Dictionary<(string, bool), string[]>
        {
            [(ServerActions.Stop, false)] = ["ACTIVE", "PAUSED"],
            [(ServerActions.Start, false)] = ["SHUTOFF"],
            [(ServerActions.Reboot, false)] = ["ACTIVE"],
            [(ServerActions.Reboot, true)] = ["ACTIVE", "SHUTOFF", "PAUSED", "REBOOT"],
            [(ServerActions.Pause, false)] = ["ACTIVE"],
            [(ServerActions.Unpause, false)] = ["PAUSED"],
            [(ServerActions.Rebuild, false)] = ["ACTIVE", "SHUTOFF"],
        };
        foreach (var ((action, hard), statuses) in allowed)
        {
            foreach (var status in all)
            {
                var start = ServerActions.Begin(action, status, null, hard, out var refusal);
                Assert.True(statuses.Contains(status) == (start is not null), $"{action} hard={hard} from {status}: {refusal}");
                Assert.True(start is null == (refusal is not null));
            }
            // With a task in progress: refused, naming it (a hard reboot still overrides a soft one's).
            Assert.Null(ServerActions.Begin(action, "ACTIVE", TaskState.PoweringOff, hard, out var busy));
            Assert.Contains("with task powering-off", busy, StringComparison.Ordinal);
        }
        Assert.NotNull(Begin(ServerActions.Reboot, "REBOOT", TaskState.RebootPending, hard: true));
    }

    [Fact]
    public void Stop_and_soft_reboot_ask_the_guest_while_a_hard_reboot_and_a_paused_stop_power_off()
    {
        Assert.Equal(new ActionStart("ACTIVE", TaskState.PoweringOff, PowerState.Shutoff, CleanShutdown: true), Begin(ServerActions.Stop, "ACTIVE"));
        Assert.Equal(new ActionStart("PAUSED", TaskState.PoweringOff, PowerState.Shutoff, CleanShutdown: false), Begin(ServerActions.Stop, "PAUSED"));
        Assert.True(Begin(ServerActions.Reboot, "ACTIVE")!.CleanShutdown);
        Assert.False(Begin(ServerActions.Reboot, "ACTIVE", hard: true)!.CleanShutdown);
        Assert.Equal(PowerState.Shutoff, Begin(ServerActions.Rebuild, "SHUTOFF")!.PowerAfter);
        Assert.Equal(PowerState.Running, Begin(ServerActions.Rebuild, "ACTIVE")!.PowerAfter);
    }

    private static LifecycleStep Next(string status, string? task, string power, string? vm, string? after = null, bool disk = true) =>
        ServerLifecycle.Next(new LifecycleState(status, task, power, vm, [], after, disk));

    [Fact]
    public void A_reboot_goes_through_shut_off_and_back_to_running()
    {
        foreach (var (status, pending, started) in new[] { ("REBOOT", TaskState.RebootPending, TaskState.RebootStarted),
            ("HARD_REBOOT", TaskState.RebootPendingHard, TaskState.RebootStartedHard) })
        {
            // Still running (or a stale report): wait.
            Assert.Equal(new LifecycleStep(status, pending, "shutoff", false), Next(status, pending, "shutoff", "running"));
            // Shut off: desired running, the agent is told.
            Assert.Equal(new LifecycleStep(status, started, "running", true), Next(status, pending, "shutoff", "shutoff"));
            Assert.Equal(new LifecycleStep(status, started, "running", false), Next(status, started, "running", "shutoff"));
            Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), Next(status, started, "running", "running"));
        }
    }

    [Fact]
    public void A_rebuild_waits_for_the_new_disk_and_ends_in_the_power_state_it_began_in()
    {
        Assert.Equal(new LifecycleStep("REBUILD", TaskState.Rebuilding, "shutoff", false), Next("REBUILD", TaskState.Rebuilding, "shutoff", "shutoff", "running", disk: false));
        Assert.Equal(new LifecycleStep("REBUILD", TaskState.RebuildSpawning, "running", true), Next("REBUILD", TaskState.Rebuilding, "shutoff", "shutoff", "running"));
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), Next("REBUILD", TaskState.RebuildSpawning, "running", "running", "running"));
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", false), Next("REBUILD", TaskState.Rebuilding, "shutoff", "shutoff", "shutoff"));
        // Running still: the disk is never made under a running guest, and the server waits.
        Assert.Equal(new LifecycleStep("REBUILD", TaskState.Rebuilding, "shutoff", false), Next("REBUILD", TaskState.Rebuilding, "shutoff", "running", "running"));
    }

    [Fact]
    public void Pause_unpause_and_stop_end_when_the_domain_is_where_they_asked()
    {
        Assert.Equal(new LifecycleStep("ACTIVE", TaskState.Pausing, "paused", false), Next("ACTIVE", TaskState.Pausing, "paused", "running"));
        Assert.Equal(new LifecycleStep("PAUSED", null, "paused", false), Next("ACTIVE", TaskState.Pausing, "paused", "paused"));
        Assert.Equal(new LifecycleStep("PAUSED", TaskState.Unpausing, "running", false), Next("PAUSED", TaskState.Unpausing, "running", "paused"));
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), Next("PAUSED", TaskState.Unpausing, "running", "running"));
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", true), Next("ACTIVE", TaskState.PoweringOff, "shutoff", "shutoff"));
        // A paused server whose domain is found shut off (destroyed behind Isola's back) is SHUTOFF too.
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", true), Next("PAUSED", null, "paused", "shutoff"));
        // An ACTIVE domain paused by anyone but Isola is not PAUSED: the agent resumes it.
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), Next("ACTIVE", null, "running", "paused"));
    }
}
