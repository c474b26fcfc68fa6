using Isola.Host.Commands;

namespace Isola.Cli.Local;

/// <summary>
/// The daemons <c>isola up --libvirt</c> needs on this machine: libvirt's system instance (<c>virtlogd</c>, <c>libvirtd</c>,
/// answering at <c>qemu:///system</c>) and Open vSwitch with its sockets in OVS's default run directory, where libvirt's own
/// <c>ovs-vsctl</c> looks (its database under Isola's working directory, the userspace datapath: no kernel module is needed).
/// What already answers is used as it is; what this starts (Debian does not start services by itself in a container) it
/// stops again, by pid, when disposed.
/// </summary>
public sealed class MachineDaemons : IAsyncDisposable
{
    public const string LibvirtUri = "qemu:///system";
    private const string OvsRun = "/var/run/openvswitch";

    private readonly ICommandRunner _run = new ProcessCommandRunner(TimeSpan.FromSeconds(30));
    private readonly List<(string Name, string PidFile)> _started = [];

    private MachineDaemons()
    {
    }

    /// <summary>What was started here (the rest was running already).</summary>
    public IReadOnlyList<string> Started => _started.Select(s => s.Name).ToList();

    /// <exception cref="LocalCloudException">A daemon is missing, or cannot be started (not root, say); what this started is stopped again.</exception>
    public static async Task<MachineDaemons> StartAsync(string directory, Action<string>? progress, CancellationToken ct)
    {
        var daemons = new MachineDaemons();
        try
        {
            await daemons.LibvirtAsync(progress, ct);
            await daemons.OvsAsync(Path.GetFullPath(Path.Join(directory, "ovs")), progress, ct);
            return daemons;
        }
        catch
        {
            await daemons.DisposeAsync();
            throw;
        }
    }

    private async Task LibvirtAsync(Action<string>? progress, CancellationToken ct)
    {
        if ((await _run.RunAsync(["virsh", "-c", LibvirtUri, "version"], ct)).Succeeded)
            return;
        Root("libvirtd does not answer at " + LibvirtUri);
        foreach (var (daemon, pid) in new[] { ("virtlogd", "/run/virtlogd.pid"), ("libvirtd", "/run/libvirtd.pid") })
        {
            if (Alive(pid))
                continue;
            await MustAsync(ct, daemon, "--daemon");
            _started.Add((daemon, pid));
            progress?.Invoke($"started {daemon}");
        }
        await UntilAsync(async () => (await _run.RunAsync(["virsh", "-c", LibvirtUri, "version"], ct)).Succeeded, "libvirtd to answer at " + LibvirtUri, ct);
    }

    private async Task OvsAsync(string db, Action<string>? progress, CancellationToken ct)
    {
        if ((await _run.RunAsync(["ovs-vsctl", "--timeout=3", "show"], ct)).Succeeded)
            return;
        Root("Open vSwitch does not answer at " + OvsRun);
        Directory.CreateDirectory(db);
        Directory.CreateDirectory(OvsRun);
        var conf = Path.Join(db, "conf.db");
        if (!File.Exists(conf))
            await MustAsync(ct, "ovsdb-tool", "create", conf, "/usr/share/openvswitch/vswitch.ovsschema");
        await MustAsync(ct, "ovsdb-server", conf, $"--remote=punix:{OvsRun}/db.sock", $"--pidfile={OvsRun}/ovsdb-server.pid", "-vconsole:off",
            $"--log-file={db}/ovsdb-server.log", "--detach", "--no-chdir");
        _started.Add(("ovsdb-server", $"{OvsRun}/ovsdb-server.pid"));
        await MustAsync(ct, "ovs-vsctl", "--no-wait", "init");
        // --disable-system: no kernel datapath; Isola's bridges use the userspace one (netdev).
        await MustAsync(ct, "ovs-vswitchd", $"unix:{OvsRun}/db.sock", "--disable-system", $"--pidfile={OvsRun}/ovs-vswitchd.pid", "-vconsole:off",
            $"--log-file={db}/ovs-vswitchd.log", "--detach", "--no-chdir");
        _started.Add(("ovs-vswitchd", $"{OvsRun}/ovs-vswitchd.pid"));
        progress?.Invoke($"started Open vSwitch (ovsdb-server, ovs-vswitchd; database {conf})");
        await UntilAsync(async () => (await _run.RunAsync(["ovs-vsctl", "--timeout=3", "show"], ct)).Succeeded, "Open vSwitch to answer", ct);
    }

    private static void Root(string why)
    {
        if (Environment.UserName != "root")
            throw new LocalCloudException($"{why}, and only root may start it: start it (systemctl start libvirtd openvswitch-switch), or run 'isola up --libvirt' as root");
    }

    private async Task MustAsync(CancellationToken ct, params string[] argv)
    {
        var result = await _run.RunAsync(argv, ct);
        if (result.ExitCode == CommandResult.NotFound)
            throw new LocalCloudException($"{argv[0]} is not installed (Debian: libvirt-daemon-system, openvswitch-switch; see scripts/test.sh)");
        if (!result.Succeeded)
            throw new LocalCloudException(result.Describe(argv));
    }

    private static async Task UntilAsync(Func<Task<bool>> ready, string what, CancellationToken ct)
    {
        for (var i = 0; i < 600; i++)
        {
            if (await ready())
                return;
            await Task.Delay(100, ct);
        }
        throw new LocalCloudException($"waited a minute for {what}");
    }

    private static bool Alive(string pidFile) =>
        File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Directory.Exists($"/proc/{pid}");

    public async ValueTask DisposeAsync()
    {
        // Last started, first stopped: vswitchd before its database, libvirtd before virtlogd.
        foreach (var (_, pidFile) in Enumerable.Reverse(_started))
        {
            if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
                continue;
            await _run.RunAsync(["kill", "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], default);
            for (var i = 0; i < 100 && Directory.Exists($"/proc/{pid}"); i++)
                await Task.Delay(50);
            if (Directory.Exists($"/proc/{pid}"))
                await _run.RunAsync(["kill", "-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], default);
        }
        _started.Clear();
    }
}
