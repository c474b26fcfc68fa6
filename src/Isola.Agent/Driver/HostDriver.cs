using System.Text.Json;
using Isola.Domain.Pci;
using Isola.Host.Commands;
using Isola.Host.IpLink;
using Isola.Rendering.Vf;

namespace Isola.Agent.Driver;

/// <summary>A host command that failed: its argv and what it said.</summary>
public sealed class DriverException(string message) : Exception(message);

/// <summary>
/// The agent's hands on a Linux host: <c>ip</c> for VFs, <c>virsh</c> for domains, <c>taskset</c> for
/// vhost workers, files under the host's root for IRQs, QEMU's tasks and host configuration. Every command goes
/// through the command runner (a real one, or a simulated host that answers from its own state); a
/// non-zero exit, a timeout or output that cannot be read becomes a <see cref="DriverException"/>.
/// </summary>
/// <param name="root">The host's root directory ("/" on a real host; a generated tree for a simulated one): /proc, /sys and /etc are read and written under it.</param>
/// <param name="instancesDirectory">Where the host keeps its servers' files (the inventory says the same, so the plans point there).</param>
/// <param name="images">Where the agent fetches images from; null: only what is cached.</param>
public sealed partial class HostDriver(ICommandRunner runner, string root, string stateDirectory, string libvirtUri = "qemu:///system",
    string instancesDirectory = "/var/lib/isola/instances", IImageSource? images = null)
{
    /// <summary>The host's server files: image cache, root disks, config drives.</summary>
    public InstanceStorage Storage { get; } = new(runner, root, stateDirectory, instancesDirectory, images);

    /// <summary>The host IRQs a PCI function has now (<c>sys/bus/pci/devices/BDF/msi_irqs/</c>; none before its driver enables MSI-X).</summary>
    public IReadOnlyList<int> MsiIrqs(Isola.Domain.Pci.PciAddress function)
    {
        var dir = Path.Join(root, "sys", "bus", "pci", "devices", function.ToString(), "msi_irqs");
        return Directory.Exists(dir)
            ? Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Select(n => int.TryParse(n, System.Globalization.CultureInfo.InvariantCulture, out var irq) ? irq : -1)
                .Where(irq => irq >= 0).Order().ToList()
            : [];
    }

    /// <summary>
    /// The name each IRQ's handler was requested with: the last column of <c>/proc/interrupts</c>
    /// (<c>" 45:  0  0  IR-PCI-MSIX-0000:01:10.0  0-edge  vfio-msix[0](0000:01:10.0)"</c>); IRQs without a handler are not listed.
    /// </summary>
    public IReadOnlyDictionary<int, string> InterruptNames()
    {
        var file = Path.Join(root, "proc", "interrupts");
        var names = new Dictionary<int, string>();
        if (!File.Exists(file))
            return names;
        foreach (var line in File.ReadLines(file))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !int.TryParse(line.AsSpan(0, colon).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var irq))
                continue;
            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // Counts only, or counts, chip and hwirq ("512000-edge") with no name after them: no handler's.
            if (fields.Length > 0 && !fields[^1].All(char.IsAsciiDigit) && !HandlerlessTail().IsMatch(fields[^1]))
                names[irq] = fields[^1];
        }
        return names;
    }

    /// <summary>The affinity a newly requested IRQ gets, as a CPU list (<c>/proc/irq/default_smp_affinity</c>, a hex mask); null when unknown.</summary>
    public string? DefaultIrqAffinity()
    {
        var file = Path.Join(root, "proc", "irq", "default_smp_affinity");
        if (!File.Exists(file))
            return null;
        var hex = File.ReadAllText(file).Trim().Replace(",", "", StringComparison.Ordinal);
        var cpus = new List<int>();
        for (var i = 0; i < hex.Length; i++)
        {
            if (!int.TryParse(hex.AsSpan(hex.Length - 1 - i, 1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var nibble))
                return null;
            for (var b = 0; b < 4; b++)
            {
                if ((nibble & (1 << b)) != 0)
                    cpus.Add((i * 4) + b);
            }
        }
        return Isola.Domain.Cpu.CpuSet.Of(cpus).ToString();
    }

    /// <summary>The netdev a PCI function's host driver made (<c>sys/bus/pci/devices/BDF/net/</c>); null when it has none.</summary>
    public string? NetDevOf(Isola.Domain.Pci.PciAddress function)
    {
        var dir = Path.Join(root, "sys", "bus", "pci", "devices", function.ToString(), "net");
        return Directory.Exists(dir) ? Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault() : null;
    }

    /// <summary>An IRQ's <c>smp_affinity_list</c>; null when the IRQ is not there.</summary>
    public string? IrqAffinity(int irq)
    {
        var file = IrqFile(irq);
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }

    /// <summary>Writes an IRQ's <c>smp_affinity_list</c> (as <c>echo CPUS &gt; /proc/irq/N/smp_affinity_list</c>).</summary>
    public void SetIrqAffinity(int irq, string cpus)
    {
        try
        {
            File.WriteAllText(IrqFile(irq), cpus + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"writing {cpus} to {IrqFile(irq)}: {e.Message}");
        }
    }

    /// <summary>A host file's content under the root; null when it is not there.</summary>
    public string? ReadHostFile(string path)
    {
        var file = Path.Join(root, path);
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    /// <summary>Writes a host file under the root (through a temporary file, so a reader never sees half of it).</summary>
    public void WriteHostFile(string path, string content)
    {
        var file = Path.Join(root, path);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file + ".isola-tmp", content);
            File.Move(file + ".isola-tmp", file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"writing {file}: {e.Message}");
        }
    }

    /// <summary>Makes systemd read changed unit files and drop-ins.</summary>
    public Task ReloadSystemdAsync(CancellationToken ct = default) => RunAsync(["systemctl", "daemon-reload"], ct);

    /// <summary>Makes irqbalance read its file again (only if it runs: <c>systemctl try-restart</c>).</summary>
    public Task RestartIrqbalanceAsync(CancellationToken ct = default) => RunAsync(["systemctl", "try-restart", "irqbalance.service"], ct);

    /// <summary>The pid of a domain's QEMU, from the file libvirt keeps (<c>run/libvirt/qemu/NAME.pid</c>); null when there is none or it holds no pid.</summary>
    public int? QemuPid(string domain)
    {
        var text = ReadHostFile(Path.Join("run", "libvirt", "qemu", domain + ".pid"));
        return int.TryParse(text?.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
    }

    /// <summary>
    /// The vhost-net workers of a QEMU process in TID order, each with the CPUs it may run on now
    /// (<c>Cpus_allowed_list:</c>), the form it was found in (a thread of QEMU, kernels 6.4 and later; a
    /// kernel thread, before 6.4) and its cpuset cgroup's CPUs: see <see cref="VhostWorkerScan"/>.
    /// </summary>
    public IReadOnlyList<Facets.VhostWorker> VhostWorkers(int pid) => VhostWorkers([pid])[pid];

    /// <summary>The vhost-net workers of each of these QEMU processes (one pass over <c>proc/</c> for all of them).</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<Facets.VhostWorker>> VhostWorkers(IReadOnlyCollection<int> pids) => VhostWorkerScan.Find(root, pids);

    /// <summary>Confines a task (a vhost worker) to CPUs: <c>taskset -p -c CPUS TID</c>.</summary>
    public Task PinTaskAsync(int tid, string cpus, CancellationToken ct = default) =>
        RunAsync(["taskset", "-p", "-c", cpus, tid.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct);

    private string IrqFile(int irq) => Path.Join(root, "proc", "irq", irq.ToString(System.Globalization.CultureInfo.InvariantCulture), "smp_affinity_list");

    /// <summary>The VF settings a PF's driver holds now.</summary>
    public async Task<IReadOnlyDictionary<int, VfState>> VfStatesAsync(string pf, CancellationToken ct = default)
    {
        var argv = IpCommands.LinkShowDetails(pf);
        var output = await RunAsync(argv, ct);
        try
        {
            return IpLinkParser.ParseVfStates(output, pf);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new DriverException($"`{string.Join(' ', argv)}` printed something that is not ip's JSON: {e.Message}");
        }
    }

    /// <summary>
    /// Gives a VF its settings, one <c>ip link set</c> per concern. igb refuses any VF rate, 0 too, while
    /// its PF's link is down (<c>igb_ndo_set_vf_bw</c> checks the link first), and igb, ixgbe and i40e check
    /// a rate against the link speed; a PF this call brings up takes a moment to get its link (igb's
    /// watchdog; seconds on the lab's emulated 82576). So when the PF was down, the rates (the last
    /// command) wait for its link, at most <see cref="PfLinkWait"/>. A PF that was up already is not
    /// waited for: without a carrier its rate is refused at once and the next cycle tries again, so a
    /// pulled cable never holds the agent's cycle.
    /// </summary>
    public async Task ProgramVfAsync(VfSettings vf, CancellationToken ct = default)
    {
        var commands = VfCommands.Program(vf);
        var shown = await runner.RunAsync(IpCommands.LinkShowDetails(vf.PfNetDev), ct);
        var wasDown = shown.Succeeded && IpLinkParser.AdminUp(shown.StandardOutput) == false;
        foreach (var argv in commands.Take(commands.Count - 1))
            await RunAsync(argv, ct);
        if (wasDown)
            await AwaitLinkAsync(vf.PfNetDev, ct);
        await RunAsync(commands[^1], ct);
    }

    /// <summary>How long a VF's rates wait for the link of a PF just brought up.</summary>
    public static TimeSpan PfLinkWait { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Waits until <c>ip -j link show dev PF</c> says its operstate is UP, or <see cref="PfLinkWait"/> has passed.</summary>
    private async Task AwaitLinkAsync(string pf, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            // Only a wait: a PF ip cannot show is left to the rate command's own error.
            var shown = await runner.RunAsync(IpCommands.LinkShowDetails(pf), ct);
            if (!shown.Succeeded || IpLinkParser.OperState(shown.StandardOutput) is "UP" || clock.Elapsed >= PfLinkWait)
                return;
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        }
    }

    /// <summary>Puts a VF back as Isola found it.</summary>
    public async Task ResetVfAsync(string pf, int index, string? driver, CancellationToken ct = default)
    {
        foreach (var argv in VfCommands.Reset(pf, index, driver))
            await RunAsync(argv, ct);
    }

    /// <summary>
    /// The domains libvirt has, and their states, in three of virsh's words: "running" (also while "in
    /// shutdown", "idle", "blocked" or "dying": QEMU runs), "paused" (also "pmsuspended") and "shut off" (also "crashed": QEMU is gone).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> DomainsAsync(CancellationToken ct = default)
    {
        // One call for every domain: " Id   Name   State" / "-----" / " 3    vm1    running" / " -    vm2    shut off".
        var argv = new[] { "virsh", "-c", libvirtUri, "list", "--all" };
        var lines = (await RunAsync(argv, ct)).Split('\n');
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        var rows = lines.SkipWhile(l => !l.TrimStart().StartsWith("---", StringComparison.Ordinal)).Skip(1);
        if (!lines.Any(l => l.TrimStart().StartsWith("---", StringComparison.Ordinal)))
            throw new DriverException($"`{string.Join(' ', argv)}` printed no domain table");
        foreach (var line in rows)
        {
            var parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 0)
                continue;
            if (parts.Length < 3)
                throw new DriverException($"`{string.Join(' ', argv)}` printed a row that is not Id Name State: '{line.Trim()}'");
            states[parts[1]] = parts[2] switch
            {
                "shut off" or "crashed" => "shut off",
                "paused" or "pmsuspended" => "paused",
                _ => "running",
            };
        }
        return states;
    }

    private string DomainDirectory => Path.Join(stateDirectory, "domains");

    /// <summary>Defines (or redefines) a domain from its XML, kept under the agent's state directory while the server is on the host.</summary>
    public async Task DefineAsync(string name, string xml, CancellationToken ct = default)
    {
        Directory.CreateDirectory(DomainDirectory);
        var file = Path.Join(DomainDirectory, name + ".xml");
        // Kept only once libvirt took it: the kept XML is what the domain was defined from (a failed define is tried again).
        var staged = file + ".new";
        await File.WriteAllTextAsync(staged, xml, ct);
        try
        {
            await Virsh(ct, "define", staged);
            File.Move(staged, file, overwrite: true);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    /// <summary>The XML a domain was last defined from by this agent (kept under the state directory); null when none is kept.</summary>
    public string? DomainXml(string name)
    {
        var file = Path.Join(DomainDirectory, name + ".xml");
        try
        {
            return File.Exists(file) ? File.ReadAllText(file) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"reading {file}: {e.Message}");
        }
    }

    /// <summary>The domains whose XML is kept under the state directory (<c>domains/NAME.xml</c>), by name.</summary>
    public IReadOnlySet<string> DomainFiles() =>
        Directory.Exists(DomainDirectory)
            ? Directory.EnumerateFiles(DomainDirectory, "*.xml").Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Removes a domain's kept XML (nothing when it is not there).</summary>
    public void RemoveDomainFile(string name)
    {
        var file = Path.Join(DomainDirectory, name + ".xml");
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"removing {file}: {e.Message}");
        }
    }

    public Task StartPausedAsync(string name, CancellationToken ct = default) => Virsh(ct, "start", "--paused", name);

    public Task ResumeAsync(string name, CancellationToken ct = default) => Virsh(ct, "resume", name);

    public Task DestroyAsync(string name, CancellationToken ct = default) => Virsh(ct, "destroy", name);

    /// <summary>Asks the guest to shut down (<c>virsh shutdown</c>: the ACPI power button by default); libvirt answers before the guest does.</summary>
    public Task ShutdownAsync(string name, CancellationToken ct = default) => Virsh(ct, "shutdown", name);

    /// <summary>Pauses the domain's vCPUs (<c>virsh suspend</c>): its memory and devices stay.</summary>
    public Task SuspendAsync(string name, CancellationToken ct = default) => Virsh(ct, "suspend", name);

    public Task UndefineAsync(string name, CancellationToken ct = default) => Virsh(ct, "undefine", name);

    private Task<string> Virsh(CancellationToken ct, params string[] args) => RunAsync(["virsh", "-c", libvirtUri, .. args], ct);

    private async Task<string> RunAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        var result = await runner.RunAsync(argv, ct);
        if (!result.Succeeded)
            throw new DriverException(result.Describe(argv));
        return result.StandardOutput;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d+-(edge|level|fasteoi)$")]
    private static partial System.Text.RegularExpressions.Regex HandlerlessTail();
}
