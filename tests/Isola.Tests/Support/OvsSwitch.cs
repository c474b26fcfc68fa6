using System.Text.RegularExpressions;
using Isola.Host.Commands;

namespace Isola.Tests.Support;

/// <summary>
/// A private Open vSwitch for a test class: ovsdb-server and ovs-vswitchd (userspace only:
/// --disable-system --enable-dummy) with their database, sockets and logs in a temp directory,
/// stopped by their own control sockets at the end. <see cref="Runner"/> runs ovs-vsctl, ovs-ofctl
/// and ovs-appctl against it (OVS_RUNDIR in their environment), as the agent's driver would on a host.
/// Given a network namespace, the daemons and every command run inside it (<c>ip netns exec</c>):
/// the switch is then that namespace's, and its netdev bridges use that namespace's devices.
/// <see cref="AtDefaultRunDirectory"/> makes the host's switch instead: its sockets in OVS's default run
/// directory, where libvirt's own <c>ovs-vsctl</c> (for <c>&lt;virtualport type='openvswitch'/&gt;</c>) and the
/// agent's commands find it without any environment; only its database and logs are private.
/// </summary>
public sealed partial class OvsSwitch(string? networkNamespace = null, bool defaultRunDirectory = false) : IAsyncLifetime
{
    /// <summary>Where ovs-vsctl, ovs-ofctl and ovs-appctl look when nothing in their environment says otherwise (Debian's build).</summary>
    public const string DefaultRunDirectory = "/var/run/openvswitch";

    private static readonly ProcessCommandRunner Process = new(TimeSpan.FromSeconds(30));

    /// <summary>
    /// The host's switch at OVS's default run directory (its database in a temp directory). One that answers
    /// there already is used as it is and left running; else this starts one and stops it, by its pids, at the end.
    /// </summary>
    public static OvsSwitch AtDefaultRunDirectory() => new(null, defaultRunDirectory: true);

    /// <summary>The switch's own files: database and logs (and, unless at the default run directory, its sockets).</summary>
    public string Directory { get; } = Path.Join(Path.GetTempPath(), "isola-ovs-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Where the daemons' sockets, pid files and control sockets are.</summary>
    public string RunDirectory => defaultRunDirectory ? DefaultRunDirectory : Directory;

    /// <summary>Commands with this switch's run directory in their environment (none needed at the default one).</summary>
    public ICommandRunner Runner => defaultRunDirectory ? Process : new EnvironmentRunner(Process, Directory, networkNamespace);

    /// <summary>The network namespace the switch runs in; null: the test's own.</summary>
    public string? NetworkNamespace => networkNamespace;

    /// <summary>Whether this started the daemons (false: a switch that ran already at the default run directory, left alone).</summary>
    public bool Started { get; private set; }

    private bool _madeRunDirectory;

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var (d, run) = (Directory, RunDirectory);
        if (defaultRunDirectory)
        {
            if ((await Process.RunAsync(["ovs-vsctl", "--timeout=3", "show"])).Succeeded)
                return; // the host's own switch runs: use it as it is
            _madeRunDirectory = !System.IO.Directory.Exists(run);
            System.IO.Directory.CreateDirectory(run);
        }
        Started = true;
        await Must("ovsdb-tool", "create", $"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema");
        await Must("ovsdb-server", $"{d}/conf.db", $"--remote=punix:{run}/db.sock", $"--pidfile={run}/ovsdb-server.pid", "-vconsole:off",
            $"--log-file={d}/ovsdb-server.log", "--detach", "--no-chdir");
        await Must("ovs-vsctl", $"--db=unix:{run}/db.sock", "--no-wait", "init");
        await Must("ovs-vswitchd", $"unix:{run}/db.sock", "--disable-system", "--enable-dummy", $"--pidfile={run}/ovs-vswitchd.pid", "-vconsole:off",
            $"--log-file={d}/ovs-vswitchd.log", "--detach", "--no-chdir");
        // Waits until ovs-vswitchd has read the database.
        await Must("ovs-vsctl", $"--db=unix:{run}/db.sock", "--timeout=10", "set", "Open_vSwitch", ".", "other_config:isola-test=1");
    }

    public async Task DisposeAsync()
    {
        foreach (var daemon in Started ? new[] { "ovs-vswitchd", "ovsdb-server" } : [])
        {
            var pidFile = Path.Join(RunDirectory, daemon + ".pid");
            if (!File.Exists(pidFile))
                continue;
            var pid = File.ReadAllText(pidFile).Trim();
            await Process.RunAsync(["ovs-appctl", "-T", "5", "-t", Path.Join(RunDirectory, $"{daemon}.{pid}.ctl"), "exit", .. daemon == "ovs-vswitchd" ? new[] { "--cleanup" } : []]);
            for (var i = 0; i < 50 && Alive(pid, daemon); i++)
                await Task.Delay(100);
            // Not gone by its control socket: SIGTERM (it removes its pid file and sockets), and only then SIGKILL.
            foreach (var signal in new[] { "-TERM", "-KILL" })
            {
                if (!Alive(pid, daemon))
                    break;
                await Process.RunAsync(["kill", signal, pid]);
                for (var i = 0; i < 50 && Alive(pid, daemon); i++)
                    await Task.Delay(100);
            }
        }
        if (_madeRunDirectory)
        {
            try
            {
                System.IO.Directory.Delete(RunDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public async Task<string> Vsctl(params string[] args) => await Must(["ovs-vsctl", "--timeout=10", .. args]);

    public async Task<string> Ofctl(params string[] args) => await Must(["ovs-ofctl", "-O", "OpenFlow13", .. args]);

    /// <summary>
    /// <c>ovs-appctl ofproto/trace BRIDGE FLOW [--ct-next FLAGS]...</c>: where the frame goes. Each
    /// <paramref name="ctNext"/> answers one conntrack recirculation (default trk,new).
    /// </summary>
    public async Task<Trace> TraceAsync(string bridge, string flow, params string[] ctNext)
    {
        var text = await Must(["ovs-appctl", "ofproto/trace", bridge, flow, .. ctNext.SelectMany(c => new[] { "--ct-next", c })]);
        return new Trace(text);
    }

    /// <summary>A userspace bridge (no kernel devices) that only its flows switch.</summary>
    public Task AddBridgeAsync(string name) =>
        Vsctl("add-br", name, "--", "set", "Bridge", name, "datapath_type=dummy", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13");

    /// <summary>A port standing in for a VM's tap (libvirt would add the real one with its iface-id).</summary>
    public Task PlugAsync(string bridge, string tap, string ifaceId) =>
        Vsctl("add-port", bridge, tap, "--", "set", "Interface", tap, "type=dummy", $"external_ids:iface-id={ifaceId}");

    public async Task<int> OfportAsync(string name) => int.Parse((await Vsctl("get", "Interface", name, "ofport")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private async Task<string> Must(params string[] argv)
    {
        var result = await Runner.RunAsync(argv);
        if (!result.Succeeded)
            throw new InvalidOperationException(result.Describe(argv) + $" (logs in {Directory})");
        return result.StandardOutput;
    }

    private static bool Alive(string pid, string comm)
    {
        var stat = $"/proc/{pid}/stat";
        return File.Exists(stat) && File.ReadAllText($"/proc/{pid}/comm").Trim() == comm && File.ReadAllText(stat).Split(' ')[2] != "Z";
    }

    /// <summary>What ofproto/trace said: the OpenFlow ports the frame went out of and the datapath's verdict.</summary>
    public sealed partial class Trace(string text)
    {
        public string Text { get; } = text;

        /// <summary>OpenFlow port numbers of the output actions the frame took (outputs to its own input port skipped).</summary>
        public IReadOnlyList<int> Outputs
        {
            get
            {
                var lines = Text.Split('\n');
                var outputs = new List<int>();
                for (var i = 0; i < lines.Length; i++)
                {
                    var m = OutputLine().Match(lines[i]);
                    if (!m.Success)
                        continue;
                    if (i + 1 < lines.Length && lines[i + 1].Contains("skipping output to input port", StringComparison.Ordinal))
                        continue;
                    outputs.Add(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                }
                return outputs;
            }
        }

        /// <summary>The frame went back out of its input port (the ARP responder's IN_PORT).</summary>
        public bool BackToSender => Text.Split('\n').Any(l => l.Trim() == "IN_PORT");

        public bool Dropped => Text.Contains("Datapath actions: drop", StringComparison.Ordinal);

        public string FinalFlow => Text.Split('\n').FirstOrDefault(l => l.StartsWith("Final flow:", StringComparison.Ordinal)) ?? "";

        public override string ToString() => Text;

        [GeneratedRegex(@"^\s+output:(\d+)\s*$")]
        private static partial Regex OutputLine();
    }

    private sealed class EnvironmentRunner(ICommandRunner inner, string directory, string? networkNamespace) : ICommandRunner
    {
        public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default) =>
            inner.RunAsync(["env", $"OVS_RUNDIR={directory}", $"OVS_DBDIR={directory}", $"OVS_LOGDIR={directory}",
                .. networkNamespace is null ? Array.Empty<string>() : ["ip", "netns", "exec", networkNamespace], .. argv], cancellationToken);
    }
}
