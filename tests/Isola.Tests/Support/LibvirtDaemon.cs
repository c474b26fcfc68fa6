using System.Diagnostics;
using Isola.Host.Commands;

namespace Isola.Tests.Support;

/// <summary>
/// The machine's libvirtd with its QEMU driver (<c>qemu:///system</c>), started with virtlogd when libvirtd
/// does not answer (no service manager starts them here; a socket left by a libvirtd that died is no
/// answer) and stopped by their pids, with SIGTERM, when this started them.
/// Unavailable, with the reason, where libvirtd is not installed or the test is not root.
/// </summary>
public sealed class LibvirtDaemon : IAsyncLifetime
{
    public const string Uri = "qemu:///system";

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
        if ((await VirshAsync("version")).ExitCode != 0)
        {
            foreach (var daemon in new[] { "virtlogd", "libvirtd" })
            {
                using var running = Running(daemon);
                if (running is not null)
                    continue; // a virtlogd that runs already (libvirtd alone was down) is used as it is
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

    public async Task DisposeAsync()
    {
        foreach (var daemon in Enumerable.Reverse(_started))
        {
            if (Running(daemon) is not { } p)
                continue;
            using (p)
            {
                // SIGTERM: libvirtd and virtlogd shut down cleanly (sockets, pid files); a guest left running would keep running.
                await new ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync(["kill", "-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                if (!p.WaitForExit(30_000))
                {
                    p.Kill();
                    await p.WaitForExitAsync();
                }
            }
        }
    }

    /// <summary>The daemon by its pid file (<c>/run/NAME.pid</c>), when that process is the daemon and runs.</summary>
    private static Process? Running(string daemon)
    {
        var pidFile = $"/run/{daemon}.pid";
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            return null;
        try
        {
            var p = Process.GetProcessById(pid);
            if (!p.HasExited && File.Exists($"/proc/{pid}/comm") && File.ReadAllText($"/proc/{pid}/comm").Trim() == daemon)
                return p;
            p.Dispose();
        }
        catch (ArgumentException)
        {
            // gone
        }
        return null;
    }
}
