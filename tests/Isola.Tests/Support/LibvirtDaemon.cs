using System.Diagnostics;
using Isola.Host.Commands;

namespace Isola.Tests.Support;

/// <summary>
/// The machine's libvirtd with its QEMU driver (<c>qemu:///system</c>), started with virtlogd when they
/// do not run (no service manager starts them here) and stopped by their pids when this started them.
/// Unavailable, with the reason, where libvirtd is not installed or the test is not root.
/// </summary>
public sealed class LibvirtDaemon : IAsyncLifetime
{
    public const string Uri = "qemu:///system";

    private const string Socket = "/run/libvirt/libvirt-sock";

    private readonly List<string> _started = [];

    public string? Unavailable { get; private set; }

    public static async Task<CommandResult> VirshAsync(params string[] args) =>
        await new ProcessCommandRunner(TimeSpan.FromSeconds(60)).RunAsync(["virsh", "-c", Uri, .. args]);

    public async Task InitializeAsync()
    {
        if (Environment.UserName != "root")
            Unavailable = "real VMs need root (libvirtd's system instance)";
        else if (!File.Exists("/usr/sbin/libvirtd") || !File.Exists("/usr/sbin/virtlogd"))
            Unavailable = "libvirtd is not installed (Debian: libvirt-daemon-system)";
        if (Unavailable is not null)
            return;
        if (!File.Exists(Socket))
        {
            foreach (var daemon in new[] { "virtlogd", "libvirtd" })
            {
                using var p = Process.Start(new ProcessStartInfo($"/usr/sbin/{daemon}", "-d") { UseShellExecute = false })!;
                await p.WaitForExitAsync();
                _started.Add(daemon);
            }
        }
        // libvirtd answers once it has probed QEMU: wait for that, not for a time.
        var clock = Stopwatch.StartNew();
        while ((await VirshAsync("version")).ExitCode != 0)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1))
            {
                Unavailable = "libvirtd did not answer within a minute";
                return;
            }
            await Task.Delay(200);
        }
    }

    public Task DisposeAsync()
    {
        foreach (var daemon in Enumerable.Reverse(_started))
        {
            var pidFile = $"/run/{daemon}.pid";
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                    p.WaitForExit(10_000);
                }
                catch (ArgumentException)
                {
                    // gone already
                }
            }
        }
        return Task.CompletedTask;
    }
}
