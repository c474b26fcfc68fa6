using System.Globalization;
using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.IpLink;

namespace Isola.Host.Simulation;

/// <summary>
/// The PFs of a simulated host and the VF settings their drivers hold: <c>ip link set dev PF vf N ...</c>
/// changes them the way the kernel does (one attribute per keyword, refusals for what the driver
/// cannot do) and <c>ip -d -j link show dev PF</c> reports them; <c>ip link set dev PF up|down</c>
/// sets the PF's link, which VF rates are checked against. Each refusal is the one the real igb gave
/// on the lab host (tests/Isola.Tests/Lab), with ip's exit code 2.
/// </summary>
public sealed class SimulatedNic
{
    private sealed class Pf(PhysicalFunction function, int ifIndex, Dictionary<int, VfState> vfs)
    {
        public PhysicalFunction Function { get; } = function;

        public int IfIndex { get; } = ifIndex;

        public Dictionary<int, VfState> Vfs { get; } = vfs;

        /// <summary>Up when the host was found with its link up (a link speed); the speed a link up has.</summary>
        public bool Up { get; set; } = function.LinkSpeedMbps is not null;

        public int Speed => Up ? Function.LinkSpeedMbps ?? 1000 : 0;
    }

    private readonly Dictionary<string, Pf> _pfs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public SimulatedNic(HostTopology host)
    {
        var ifIndex = 2;
        foreach (var pf in host.Devices.Where(d => d.NetDev is not null))
            _pfs[pf.NetDev!] = new Pf(pf, ifIndex++, pf.Vfs.ToDictionary(v => v.Index, v => v.State ?? VfState.Reset));
    }

    /// <summary>Whether a PF's link is up.</summary>
    public bool IsUp(string pf)
    {
        lock (_lock)
            return _pfs[pf].Up;
    }

    /// <summary>A VF's settings now.</summary>
    public VfState Vf(string pf, int vf)
    {
        lock (_lock)
            return _pfs[pf].Vfs[vf];
    }

    /// <summary>Changes a VF behind the agent's back (someone ran ip link set by hand).</summary>
    public void Tamper(string pf, int vf, Func<VfState, VfState> change)
    {
        lock (_lock)
            _pfs[pf].Vfs[vf] = change(_pfs[pf].Vfs[vf]);
    }

    /// <summary>Every VF that is not as after a reset: what a host with no VMs must not have.</summary>
    public IReadOnlyList<(string Pf, int Vf, VfState State)> Programmed()
    {
        lock (_lock)
            return _pfs.SelectMany(p => p.Value.Vfs.Where(v => v.Value != VfState.Reset).Select(v => (p.Key, v.Key, v.Value))).ToList();
    }

    public CommandResult Show(string pf)
    {
        lock (_lock)
        {
            if (!_pfs.TryGetValue(pf, out var p))
                return Fail($"Device \"{pf}\" does not exist.");
            // Its link as it is now: up (at the speed it was found with, or 1000) or down.
            var function = p.Function with
            {
                Vfs = p.Function.Vfs.Select(v => v with { State = p.Vfs[v.Index] }).ToList(),
                LinkSpeedMbps = p.Up ? p.Speed : null,
            };
            return new CommandResult(0, IpLinkRenderer.Render(function, p.IfIndex), "");
        }
    }

    /// <summary><c>ip link set dev PF vf N KEY VALUE...</c> (argv from "dev" on).</summary>
    public CommandResult Set(IReadOnlyList<string> args)
    {
        if (args is ["dev", var name, "up" or "down"])
        {
            lock (_lock)
            {
                if (!_pfs.TryGetValue(name, out var link))
                    return Fail($"Cannot find device \"{name}\"");
                link.Up = args[2] == "up";
                return new CommandResult(0, "", "");
            }
        }
        if (args.Count < 5 || args[0] != "dev" || args[2] != "vf" || !int.TryParse(args[3], CultureInfo.InvariantCulture, out var index))
            return Fail("Command line is not complete. Try \"ip link help\".");
        lock (_lock)
        {
            if (!_pfs.TryGetValue(args[1], out var pf))
                return Fail($"Cannot find device \"{args[1]}\"");
            if (!pf.Vfs.TryGetValue(index, out var state))
                return Refuse("Invalid argument");
            var quirks = pf.Function.Driver;
            for (var i = 4; i < args.Count; i += 2)
            {
                if (i + 1 >= args.Count)
                    return Fail($"Command line is not complete after \"{args[i]}\".");
                var value = args[i + 1];
                switch (args[i])
                {
                    case "mac":
                        state = state with { Mac = value.ToLowerInvariant() };
                        break;
                    case "vlan":
                        state = state with { Vlan = int.Parse(value, CultureInfo.InvariantCulture), Qos = 0, VlanProtocol = "802.1Q" };
                        break;
                    case "qos":
                        state = state with { Qos = int.Parse(value, CultureInfo.InvariantCulture) };
                        break;
                    case "proto":
                        if (value == "802.1ad" && quirks is "igb" or "ixgbe" or "i40e")
                            return Refuse("Protocol not supported");
                        state = state with { VlanProtocol = value };
                        break;
                    case "spoofchk":
                        state = state with { SpoofCheck = value == "on" };
                        break;
                    case "trust":
                        state = state with { Trust = value == "on" };
                        break;
                    case "state":
                        if (quirks == "igb")
                            return Refuse("Operation not supported");
                        state = state with { LinkState = Enum.Parse<VfLinkState>(value, ignoreCase: true) };
                        break;
                    case "max_tx_rate":
                        var max = int.Parse(value, CultureInfo.InvariantCulture);
                        // The rate is checked against the PF's link speed, 0 while its link is down.
                        if (max > pf.Speed)
                            return Refuse("Invalid argument");
                        state = state with { MaxTxRateMbps = max };
                        break;
                    case "min_tx_rate":
                        var min = int.Parse(value, CultureInfo.InvariantCulture);
                        if (min > 0 && quirks is "igb" or "ixgbe" or "i40e")
                            return Refuse("Invalid argument");
                        state = state with { MinTxRateMbps = min };
                        break;
                    default:
                        return Fail($"Error: argument \"{args[i]}\" is wrong: unknown vf attribute");
                }
            }
            pf.Vfs[index] = state;
            return new CommandResult(0, "", "");
        }
    }

    private static CommandResult Fail(string message) => new(1, "", message + "\n");

    /// <summary>What the kernel refused, as ip reports it: the errno's text, exit code 2.</summary>
    private static CommandResult Refuse(string errno) => new(2, "", $"RTNETLINK answers: {errno}\n");
}
