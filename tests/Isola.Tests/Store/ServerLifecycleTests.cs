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
}
