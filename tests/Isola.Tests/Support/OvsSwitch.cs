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
/// </summary>
public sealed partial class OvsSwitch(string? networkNamespace = null) : IAsyncLifetime
{
    private static readonly ProcessCommandRunner Process = new(TimeSpan.FromSeconds(30));

    public string Directory { get; } = Path.Join(Path.GetTempPath(), "isola-ovs-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Commands with this switch's run directory in their environment.</summary>
    public ICommandRunner Runner => new EnvironmentRunner(Process, Directory, networkNamespace);

    /// <summary>The network namespace the switch runs in; null: the test's own.</summary>
    public string? NetworkNamespace => networkNamespace;

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var d = Directory;
        await Must("ovsdb-tool", "create", $"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema");
        await Must("ovsdb-server", $"{d}/conf.db", $"--remote=punix:{d}/db.sock", $"--pidfile={d}/ovsdb-server.pid", "-vconsole:off",
            $"--log-file={d}/ovsdb-server.log", "--detach", "--no-chdir");
        await Must("ovs-vsctl", $"--db=unix:{d}/db.sock", "--no-wait", "init");
        await Must("ovs-vswitchd", $"unix:{d}/db.sock", "--disable-system", "--enable-dummy", $"--pidfile={d}/ovs-vswitchd.pid", "-vconsole:off",
            $"--log-file={d}/ovs-vswitchd.log", "--detach", "--no-chdir");
        // Waits until ovs-vswitchd has read the database.
        await Must("ovs-vsctl", $"--db=unix:{d}/db.sock", "--timeout=10", "set", "Open_vSwitch", ".", "other_config:isola-test=1");
    }

    public async Task DisposeAsync()
    {
        foreach (var daemon in new[] { "ovs-vswitchd", "ovsdb-server" })
        {
            var pidFile = Path.Join(Directory, daemon + ".pid");
            if (!File.Exists(pidFile))
                continue;
            var pid = File.ReadAllText(pidFile).Trim();
            await Process.RunAsync(["ovs-appctl", "-T", "5", "-t", Path.Join(Directory, $"{daemon}.{pid}.ctl"), "exit", .. daemon == "ovs-vswitchd" ? new[] { "--cleanup" } : []]);
            for (var i = 0; i < 50 && Alive(pid, daemon); i++)
                await Task.Delay(100);
            if (Alive(pid, daemon))
                await Process.RunAsync(["kill", "-9", pid]);
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
