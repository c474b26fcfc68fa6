using Isola.Store;
using Isola.Store.Lifecycle;

namespace Isola.Tests.Store;

public sealed class ServerLifecycleTests
{
    private static LifecycleStep Next(string power, string? vm, params string[] ports) =>
        ServerLifecycle.Next(new LifecycleState(ServerStatus.Build, TaskState.Scheduled, power, vm, ports));

    [Fact]
    public void A_server_stays_paused_until_every_port_is_active()
    {
        Assert.Equal(new LifecycleStep("BUILD", "scheduled", "paused", false), Next("paused", null, "ACTIVE"));
        Assert.Equal(new LifecycleStep("BUILD", "spawning", "paused", false), Next("paused", "paused", "ACTIVE", "DOWN"));
        Assert.Equal(new LifecycleStep("BUILD", "resuming", "running", true), Next("paused", "paused", "ACTIVE", "ACTIVE"));
        // No ports: nothing to wait for once the domain is defined.
        Assert.Equal(new LifecycleStep("BUILD", "resuming", "running", true), Next("paused", "paused"));
    }

    [Fact]
    public void It_is_active_once_running_after_the_resume()
    {
        Assert.Equal(new LifecycleStep("BUILD", "resuming", "running", false), Next("running", "paused", "ACTIVE"));
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), Next("running", "running", "ACTIVE"));
        // An ERROR or ACTIVE server does not move on reports.
        Assert.Equal(new LifecycleStep("ERROR", null, "paused", false),
            ServerLifecycle.Next(new LifecycleState(ServerStatus.Error, null, "paused", "running", ["ACTIVE"])));
    }

    private static LifecycleStep From(string status, string? task, string power, string? vm) =>
        ServerLifecycle.Next(new LifecycleState(status, task, power, vm, ["DOWN"]));

    [Fact]
    public void An_active_server_whose_guest_powered_off_is_shutoff_and_stays_so()
    {
        // Its desired power state turns shutoff (the agent must not start it) and the host's revision moves.
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", true), From("ACTIVE", null, "running", "shutoff"));
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", false), From("SHUTOFF", null, "shutoff", "shutoff"));
        // Whatever the domain does meanwhile, only a start (desired power state running) moves it.
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", false), From("SHUTOFF", null, "shutoff", "running"));
        Assert.Equal(new LifecycleStep("SHUTOFF", null, "shutoff", false), From("SHUTOFF", null, "shutoff", "absent"));
        // A domain that is paused or gone is not a guest's poweroff.
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), From("ACTIVE", null, "running", "paused"));
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), From("ACTIVE", null, "running", "absent"));
    }

    [Fact]
    public void A_shutoff_server_told_to_run_is_powering_on_until_reported_running()
    {
        Assert.Equal(new LifecycleStep("SHUTOFF", "powering-on", "running", false), From("SHUTOFF", "powering-on", "running", "shutoff"));
        Assert.Equal(new LifecycleStep("ACTIVE", null, "running", false), From("SHUTOFF", "powering-on", "running", "running"));
    }

    [Fact]
    public void A_domain_shut_off_during_the_build_is_the_builds_own_business()
    {
        // Defined, not started yet (or stopped before the resume): still building; the agent starts it.
        Assert.Equal(new LifecycleStep("BUILD", "scheduled", "paused", false), Next("paused", "shutoff", "DOWN"));
        Assert.Equal(new LifecycleStep("BUILD", "resuming", "running", false), Next("running", "shutoff", "ACTIVE"));
    }
}
