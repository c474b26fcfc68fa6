using Isola.Domain.Topology;
using Isola.Host.Commands;

namespace Isola.Host.Simulation;

/// <summary>
/// A host that is not there: a NIC that keeps VF state, a libvirt that keeps domains and starts their
/// QEMU processes (files under the host's root, where the agent's driver reads /proc), answering the
/// commands the agent's Linux driver issues — so the agent's real logic runs unchanged. Faults can be
/// injected: a command failing, hanging past its time, or printing garbage.
/// </summary>
public sealed class SimulatedHost : ICommandRunner
{
    private readonly List<(Func<IReadOnlyList<string>, bool> Matches, CommandResult Result, int Times)> _faults = [];
    private readonly List<IReadOnlyList<string>> _log = [];
    private readonly Lock _lock = new();

    /// <param name="root">The host's root directory, shared with the agent's driver: started domains' pid files and /proc tasks are written under it (never under the real /).</param>
    public SimulatedHost(HostTopology host, string root)
    {
        Host = host;
        Root = root;
        Nic = new SimulatedNic(host);
        Qemu = new SimulatedQemu(root, host.AllCpus, host.Virt.VhostNet);
        Libvirt = new SimulatedLibvirt(Qemu) { Interrupts = new SimulatedInterrupts(root) };
    }

    public HostTopology Host { get; }

    public string Root { get; }

    public SimulatedNic Nic { get; }

    public SimulatedLibvirt Libvirt { get; }

    /// <summary>The QEMU processes of started domains, with their vhost workers.</summary>
    public SimulatedQemu Qemu { get; }

    /// <summary>The host's Open vSwitch; libvirt plugs a running domain's virtio taps into it.</summary>
    public SimulatedOvs Ovs { get; } = new();

    /// <summary>Every command run, in order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Log
    {
        get
        {
            lock (_lock)
                return [.. _log];
        }
    }

    /// <summary>The next <paramref name="times"/> commands that match answer <paramref name="result"/> instead of running.</summary>
    public void Fail(Func<IReadOnlyList<string>, bool> matches, CommandResult result, int times = 1)
    {
        lock (_lock)
            _faults.Add((matches, result, times));
    }

    /// <summary>Open vSwitch as libvirt leaves it: the taps of running and paused domains plugged, the others' gone.</summary>
    private CommandResult RunOvs(IReadOnlyList<string> argv)
    {
        lock (_lock)
        {
            var active = new HashSet<string>(StringComparer.Ordinal);
            foreach (var domain in Libvirt.Domains.Values.Where(d => d.State is "running" or "paused"))
            {
                foreach (var nic in OvsInterfaces(domain.Xml))
                {
                    Ovs.Plug(nic.Bridge, nic.Tap, nic.IfaceId, nic.Mac, domain.Uuid);
                    active.Add(nic.Tap);
                }
            }
            foreach (var tap in _plugged.Except(active).ToList())
                Ovs.Unplug(tap);
            _plugged.Clear();
            _plugged.UnionWith(active);
        }
        return Ovs.Run(argv);
    }

    private readonly HashSet<string> _plugged = new(StringComparer.Ordinal);

    /// <summary>libvirt refuses to start a domain whose openvswitch interface names a bridge that does not exist.</summary>
    private string? MissingBridge(string domain) =>
        Libvirt.Domains.TryGetValue(domain, out var d) ? OvsInterfaces(d.Xml).Select(n => n.Bridge).FirstOrDefault(b => !Ovs.BridgeNames.Contains(b)) : null;

    /// <summary>The domain's <c>&lt;interface type='bridge'&gt;</c> elements with an openvswitch virtualport and a target dev.</summary>
    private static IEnumerable<(string Bridge, string Tap, string IfaceId, string Mac)> OvsInterfaces(string xml)
    {
        var doc = System.Xml.Linq.XDocument.Parse(xml);
        foreach (var nic in doc.Descendants("interface").Where(i => (string?)i.Attribute("type") == "bridge"))
        {
            var port = nic.Element("virtualport");
            var tap = (string?)nic.Element("target")?.Attribute("dev");
            var bridge = (string?)nic.Element("source")?.Attribute("bridge");
            if ((string?)port?.Attribute("type") != "openvswitch" || tap is null || bridge is null)
                continue;
            yield return (bridge, tap, (string?)port.Element("parameters")?.Attribute("interfaceid") ?? "", (string?)nic.Element("mac")?.Attribute("address") ?? "");
        }
    }

    /// <summary>
    /// <c>qemu-img create [-q] -f qcow2 [-b BACKING -F FORMAT] FILE SIZE</c>: a small text file under the root
    /// standing in for the disk (what it was made from and how big); a backing file that is not there is qemu-img's error.
    /// </summary>
    private CommandResult QemuImgCreate(IReadOnlyList<string> argv)
    {
        var args = argv.Skip(2).Where(a => a != "-q").ToList();
        string? Option(string name) => args.IndexOf(name) is var i and >= 0 && i + 1 < args.Count ? args[i + 1] : null;
        var positional = args.Where((a, i) => !a.StartsWith('-') && (i == 0 || !args[i - 1].StartsWith('-'))).ToList();
        if (Option("-f") != "qcow2" || positional.Count != 2)
            return new CommandResult(1, "", $"qemu-img: the simulated host makes qcow2 FILE SIZE only: {string.Join(' ', argv)}\n");
        var backing = Option("-b");
        if (backing is not null && !File.Exists(Path.Join(Root, backing)))
            return new CommandResult(1, "", $"qemu-img: {positional[0]}: Could not open '{backing}': No such file or directory\n");
        var file = Path.Join(Root, positional[0]);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, $"simulated qcow2 {positional[1]} backing {backing ?? "none"} ({Option("-F") ?? "-"})\n");
        return new CommandResult(0, "", "");
    }

    /// <summary>
    /// <c>qemu-img rebase -u -f qcow2 -b BACKING -F FORMAT FILE</c> and <c>qemu-img resize -q -f qcow2 FILE SIZE</c> on a disk
    /// <see cref="QemuImgCreate"/> made: its text says the new backing file or size; a file that is not there, or is no such disk, is qemu-img's error.
    /// </summary>
    private CommandResult QemuImgEdit(string file, string what, string value, string? format)
    {
        var local = Path.Join(Root, file);
        var text = File.Exists(local) ? File.ReadAllText(local) : null;
        var parts = text is null ? null : System.Text.RegularExpressions.Regex.Match(text, @"^simulated qcow2 (\S+) backing (\S+) \((\S+)\)\n$");
        if (parts is not { Success: true })
            return new CommandResult(1, "", $"qemu-img: Could not open '{file}': {(text is null ? "No such file or directory" : "Image is not in qcow2 format")}\n");
        if (what == "backing" && !File.Exists(Path.Join(Root, value)))
            return new CommandResult(1, "", $"qemu-img: Could not open '{value}': No such file or directory\n");
        var (size, backing, fmt) = (parts.Groups[1].Value, parts.Groups[2].Value, parts.Groups[3].Value);
        File.WriteAllText(local, what == "backing" ? $"simulated qcow2 {size} backing {value} ({format})\n" : $"simulated qcow2 {value} backing {backing} ({fmt})\n");
        return new CommandResult(0, "", "");
    }

    /// <summary><c>genisoimage ... -output FILE -volid LABEL ... FILES</c>: the files' names and contents in one text file under the root.</summary>
    private CommandResult GenIsoImage(IReadOnlyList<string> argv)
    {
        var args = argv.Skip(1).ToList();
        var output = args.IndexOf("-output") is var o and >= 0 && o + 1 < args.Count ? args[o + 1] : null;
        var label = args.IndexOf("-volid") is var v and >= 0 && v + 1 < args.Count ? args[v + 1] : "";
        if (output is null)
            return new CommandResult(1, "", "genisoimage: no -output\n");
        var files = args.Where((a, i) => !a.StartsWith('-') && (i == 0 || args[i - 1] is not ("-output" or "-volid"))).ToList();
        var text = new System.Text.StringBuilder($"simulated iso9660 volume {label}\n");
        foreach (var f in files)
        {
            var local = Path.Join(Root, f);
            if (!File.Exists(local))
                return new CommandResult(1, "", $"genisoimage: Uh oh, I cant find '{f}'!\n");
            text.Append("== ").Append(Path.GetFileName(f)).Append('\n').Append(File.ReadAllText(local));
        }
        var file = Path.Join(Root, output);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, text.ToString());
        return new CommandResult(0, "", "");
    }

    public Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _log.Add(argv);
            for (var i = 0; i < _faults.Count; i++)
            {
                var (matches, result, times) = _faults[i];
                if (!matches(argv))
                    continue;
                if (times <= 1)
                    _faults.RemoveAt(i);
                else
                    _faults[i] = (matches, result, times - 1);
                return Task.FromResult(result);
            }
        }
        return Task.FromResult(argv switch
        {
            ["ip", "-d", "-j", "link", "show", "dev", var pf] => Nic.Show(pf),
            ["ip", "link", "set", ..] => Nic.Set([.. argv.Skip(3)]),
            ["virsh", "-c", _, "start", "--paused", var name] when MissingBridge(name) is { } bridge => new CommandResult(1, "",
                $"error: Failed to start domain '{name}'\nerror: Unable to add port to OVS bridge {bridge}: no bridge named {bridge}\n"),
            ["virsh", "-c", _, ..] => Libvirt.Run([.. argv.Skip(3)]),
            ["systemctl", "try-restart", "irqbalance.service"] or ["systemctl", "daemon-reload"] => new CommandResult(0, "", ""),
            ["ovs-vsctl" or "ovs-ofctl" or "ovs-appctl", ..] => RunOvs(argv),
            ["taskset", "-p", "-c", var cpus, var tid] => Qemu.Taskset(cpus, tid),
            ["qemu-img", "create", ..] => QemuImgCreate(argv),
            ["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", var backing, "-F", var format, var file] => QemuImgEdit(file, "backing", backing, format),
            ["qemu-img", "resize", "-q", "-f", "qcow2", var file, var size] => QemuImgEdit(file, "size", size, null),
            ["genisoimage", ..] => GenIsoImage(argv),
            _ => new CommandResult(CommandResult.NotFound, "", $"{argv[0]}: command not found in the simulated host\n"),
        });
    }
}
