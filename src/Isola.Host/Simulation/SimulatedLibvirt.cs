using System.Text.RegularExpressions;
using Isola.Host.Commands;

namespace Isola.Host.Simulation;

/// <summary>
/// The libvirt of a simulated host: domains defined from their XML, and their states, answering the
/// <c>virsh</c> subcommands the agent uses (define, start --paused, resume, suspend, shutdown, destroy,
/// undefine, list, domstate) with virsh's words and exit codes. A started domain has a QEMU process
/// (<see cref="SimulatedQemu"/>), which goes when the domain stops. Its guest answers an ACPI shutdown
/// request by powering off at once, unless it is one of <see cref="IgnoringAcpi"/> (a guest that never does).
/// </summary>
public sealed partial class SimulatedLibvirt(SimulatedQemu qemu)
{
    /// <summary>A domain and its state in virsh's words: "shut off", "paused", "running".</summary>
    public sealed record Domain(string Name, string Uuid, string Xml, string State);

    private readonly Dictionary<string, Domain> _domains = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Domains whose guests ignore ACPI shutdown requests (<c>virsh shutdown</c> then changes nothing).</summary>
    public ISet<string> IgnoringAcpi { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>How many ACPI shutdown requests each domain got.</summary>
    public IReadOnlyDictionary<string, int> ShutdownRequests
    {
        get
        {
            lock (_lock)
                return new Dictionary<string, int>(_shutdowns);
        }
    }

    private readonly Dictionary<string, int> _shutdowns = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, Domain> Domains
    {
        get
        {
            lock (_lock)
                return new Dictionary<string, Domain>(_domains);
        }
    }

    public CommandResult Run(IReadOnlyList<string> args)
    {
        lock (_lock)
        {
            switch (args)
            {
                case ["define", var file]:
                {
                    var xml = File.ReadAllText(file);
                    var name = NameRule().Match(xml) is { Success: true } n ? n.Groups[1].Value : null;
                    if (name is null)
                        return Fail("error: Failed to define domain from " + file + "\nerror: XML error: missing domain name");
                    var uuid = UuidRule().Match(xml) is { Success: true } u ? u.Groups[1].Value : Guid.NewGuid().ToString();
                    _domains[name] = _domains.TryGetValue(name, out var old) ? old with { Xml = xml, Uuid = uuid } : new Domain(name, uuid, xml, "shut off");
                    return Ok($"Domain '{name}' defined from {file}\n");
                }
                case ["start", "--paused", var name]:
                {
                    var started = Change(name, d => d.State == "shut off" ? (d with { State = "paused" }, null) : (d, "error: Requested operation is not valid: domain is already running"),
                        $"Domain '{name}' started\n");
                    if (started.Succeeded)
                        StartQemu(name);
                    return started;
                }
                case ["resume", var name]:
                {
                    var resumed = Change(name, d => d.State == "paused" ? (d with { State = "running" }, null) : (d, "error: Requested operation is not valid: domain is not running"),
                        $"Domain '{name}' resumed\n");
                    // The guest runs: its drivers enable MSI-X on the devices passed to it.
                    if (resumed.Succeeded)
                    {
                        foreach (var vf in Hostdevs(_domains[name].Xml))
                            Interrupts?.EnableMsix(vf);
                    }
                    return resumed;
                }
                case ["suspend", var name]:
                    return Change(name, d => d.State == "running" ? (d with { State = "paused" }, null) : (d, "error: Failed to suspend domain '" + name + "'\nerror: Requested operation is not valid: domain is not running"),
                        $"Domain '{name}' suspended\n");
                case ["shutdown", var name]:
                {
                    // libvirt asks the guest (ACPI power button) and answers at once; the guest powers off when it will.
                    var asked = Change(name, d => d.State != "shut off" ? (d, null) : (d, "error: Failed to shutdown domain '" + name + "'\nerror: Requested operation is not valid: domain is not running"),
                        $"Domain '{name}' is being shutdown\n\n");
                    if (asked.Succeeded)
                    {
                        _shutdowns[name] = _shutdowns.GetValueOrDefault(name) + 1;
                        if (_domains[name].State == "running" && !IgnoringAcpi.Contains(name))
                        {
                            _domains[name] = _domains[name] with { State = "shut off" };
                            StopQemu(name);
                        }
                    }
                    return asked;
                }
                case ["destroy", var name]:
                {
                    var destroyed = Change(name, d => d.State != "shut off" ? (d with { State = "shut off" }, null) : (d, "error: Requested operation is not valid: domain is not running"),
                        $"Domain '{name}' destroyed\n");
                    if (destroyed.Succeeded)
                        StopQemu(name);
                    return destroyed;
                }
                case ["undefine", var name]:
                    if (!_domains.TryGetValue(name, out var gone))
                        return NoDomain(name);
                    if (gone.State != "shut off")
                        return Fail("error: Failed to undefine domain '" + name + "'\nerror: Requested operation is not valid: cannot undefine an active domain");
                    _domains.Remove(name);
                    return Ok($"Domain '{name}' has been undefined\n");
                case ["list", "--all"]:
                {
                    var rows = _domains.Values.OrderBy(d => d.Name, StringComparer.Ordinal).Select((d, i) =>
                        $" {(d.State == "shut off" ? "-" : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)),-4} {d.Name,-40} {d.State}\n");
                    return Ok(" Id   Name                                       State\n" + new string('-', 58) + "\n" + string.Concat(rows) + "\n");
                }
                case ["list", "--all", "--name"]:
                    return Ok(string.Concat(_domains.Keys.Order(StringComparer.Ordinal).Select(n => n + "\n")) + "\n");
                case ["domstate", var name]:
                    return _domains.TryGetValue(name, out var d2) ? Ok(d2.State + "\n\n") : NoDomain(name);
                default:
                    return Fail($"error: unknown command: '{string.Join(' ', args)}'");
            }
        }
    }

    /// <summary>The host's MSI-X vectors, which follow the VFs the domains take (null: not simulated).</summary>
    public SimulatedInterrupts? Interrupts { get; init; }

    private void StartQemu(string name)
    {
        qemu.Start(name, _domains[name].Xml);
        foreach (var vf in Hostdevs(_domains[name].Xml))
            Interrupts?.Passthrough(vf);
    }

    private void StopQemu(string name)
    {
        qemu.Stop(name);
        if (_domains.TryGetValue(name, out var d))
        {
            foreach (var vf in Hostdevs(d.Xml))
                Interrupts?.Release(vf);
        }
    }

    /// <summary>The PCI functions a domain's XML passes through (hostdev interfaces and hostdevs), by their host addresses.</summary>
    private static IEnumerable<Isola.Domain.Pci.PciAddress> Hostdevs(string xml)
    {
        System.Xml.Linq.XElement root;
        try
        {
            root = System.Xml.Linq.XElement.Parse(xml);
        }
        catch (System.Xml.XmlException)
        {
            return [];
        }
        int Hex(System.Xml.Linq.XElement a, string name) => Convert.ToInt32(((string?)a.Attribute(name) ?? "0").Replace("0x", "", StringComparison.Ordinal), 16);
        var devices = root.Element("devices");
        return (devices?.Elements("interface").Where(i => (string?)i.Attribute("type") == "hostdev") ?? [])
            .Concat(devices?.Elements("hostdev") ?? [])
            .Select(e => e.Element("source")?.Element("address"))
            .OfType<System.Xml.Linq.XElement>()
            .Select(a => new Isola.Domain.Pci.PciAddress(Hex(a, "domain"), Hex(a, "bus"), Hex(a, "slot"), Hex(a, "function")))
            .ToList();
    }

    /// <summary>A domain that stops behind the agent's back (a crash, an operator).</summary>
    public void Stop(string name)
    {
        lock (_lock)
        {
            if (_domains.TryGetValue(name, out var d))
                _domains[name] = d with { State = "shut off" };
            StopQemu(name);
        }
    }

    private CommandResult Change(string name, Func<Domain, (Domain Next, string? Error)> change, string ok)
    {
        if (!_domains.TryGetValue(name, out var d))
            return NoDomain(name);
        var (next, error) = change(d);
        if (error is not null)
            return Fail(error);
        _domains[name] = next;
        return Ok(ok);
    }

    private static CommandResult NoDomain(string name) => Fail($"error: failed to get domain '{name}'");

    private static CommandResult Ok(string output) => new(0, output, "");

    private static CommandResult Fail(string message) => new(1, "", message + "\n");

    [GeneratedRegex(@"<name>([^<]+)</name>")]
    private static partial Regex NameRule();

    [GeneratedRegex(@"<uuid>([^<]+)</uuid>")]
    private static partial Regex UuidRule();
}
