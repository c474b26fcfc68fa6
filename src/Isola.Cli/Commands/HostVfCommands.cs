using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Isola.Agent.Driver;
using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Isola.Host.Commands;
using Isola.Rendering.Vf;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola host vf show|set|reset</c>: a PF's VFs on this machine, read and set by the agent's own
/// Linux driver (the same <c>ip link set ... vf</c> commands in the same order, the same parse of
/// <c>ip -d -j link show</c>), for an operator checking a NIC by hand and for the lab host's tests.
/// </summary>
internal static class HostVfCommands
{
    public static Command Create(CliConsole console)
    {
        var vf = new Command("vf", "A PF's VFs as its driver holds them, read and set the way Isola's agent does");
        vf.Subcommands.Add(Show(console));
        vf.Subcommands.Add(Set(console));
        vf.Subcommands.Add(Reset(console));
        return vf;
    }

    /// <summary>The agent's driver on this machine (the state directory is unused by the VF and IRQ calls).</summary>
    internal static HostDriver Driver() => new(new ProcessCommandRunner(), "/", Path.Join(Path.GetTempPath(), "isola-host"));

    private static Command Show(CliConsole console)
    {
        var pf = new Argument<string>("pf") { Description = "The PF's netdev" };
        var format = CommonOptions.Format();
        var command = new Command("show", "Each VF's MAC, VLAN, QoS, spoof check, trust, link state and rates (ip -d -j link show)") { pf, format };
        command.SetAction(async (parse, ct) => await Guard(console, async () =>
        {
            var states = await Driver().VfStatesAsync(parse.GetValue(pf)!, ct);
            if (parse.GetValue(format) == CommonOptions.Json)
            {
                await console.Out.WriteLineAsync(JsonSerializer.Serialize(states.OrderBy(s => s.Key).ToDictionary(s => s.Key.ToString(CultureInfo.InvariantCulture), s => s.Value), IsolaJson.Options));
                return ExitCodes.Ok;
            }
            foreach (var (index, s) in states.OrderBy(s => s.Key))
                await console.Out.WriteLineAsync($"vf {index}: mac {s.Mac}, vlan {s.Vlan} qos {s.Qos} {s.VlanProtocol}, spoofchk {(s.SpoofCheck ? "on" : "off")}, " +
                    $"trust {(s.Trust ? "on" : "off")}, state {s.LinkState.ToString().ToLowerInvariant()}, max_tx_rate {s.MaxTxRateMbps}, min_tx_rate {s.MinTxRateMbps}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Set(CliConsole console)
    {
        var pf = new Argument<string>("pf") { Description = "The PF's netdev" };
        var index = new Argument<int>("vf") { Description = "The VF's index on the PF" };
        var mac = new Option<string>("--mac") { Description = "MAC address", DefaultValueFactory = _ => VfState.ZeroMac };
        var vlan = new Option<int>("--vlan") { Description = "Port VLAN (0: none)" };
        var qos = new Option<int>("--qos") { Description = "802.1p priority of the port VLAN" };
        var protocol = new Option<string>("--vlan-protocol") { Description = "802.1Q or 802.1ad", DefaultValueFactory = _ => "802.1Q" };
        var spoof = OnOff("--spoof-check", "Drop frames the VF sends from a MAC that is not its own", true);
        var trust = OnOff("--trust", "Let the VF change its MAC and enter promiscuous mode", false);
        var state = new Option<VfLinkState>("--link-state") { Description = "auto, enable or disable (not on igb)", DefaultValueFactory = _ => VfLinkState.Auto };
        var max = new Option<int>("--max-tx-rate") { Description = "Mbps the VF may send (0: no limit)" };
        var min = new Option<int>("--min-tx-rate") { Description = "Mbps the VF is guaranteed (0: none)" };
        var command = new Command("set", "Give a VF these settings (every one: those not given take their reset value), PF up first, as the agent programs a plan's VF")
        {
            pf, index, mac, vlan, qos, protocol, spoof, trust, state, max, min,
        };
        command.SetAction(async (parse, ct) => await Guard(console, async () =>
        {
            var desired = new VfState(parse.GetValue(mac)!.ToLowerInvariant(), parse.GetValue(vlan), parse.GetValue(qos), parse.GetValue(protocol)!,
                parse.GetValue(spoof) == "on", parse.GetValue(trust) == "on", parse.GetValue(state), parse.GetValue(max), parse.GetValue(min));
            await Driver().ProgramVfAsync(Settings(parse.GetValue(pf)!, parse.GetValue(index), desired), ct);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Reset(CliConsole console)
    {
        var pf = new Argument<string>("pf") { Description = "The PF's netdev" };
        var index = new Argument<int>("vf") { Description = "The VF's index on the PF" };
        var command = new Command("reset", "Put a VF back as Isola finds one: no MAC, no VLAN, spoof check on, trust off, no rates") { pf, index };
        command.SetAction(async (parse, ct) => await Guard(console, async () =>
        {
            var s = Settings(parse.GetValue(pf)!, parse.GetValue(index), VfState.Reset);
            await Driver().ResetVfAsync(s.PfNetDev, s.VfIndex, s.Driver, ct);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Option<string> OnOff(string name, string description, bool fallback)
    {
        var option = new Option<string>(name) { Description = $"{description}: on or off", DefaultValueFactory = _ => fallback ? "on" : "off" };
        option.AcceptOnlyFromAmong("on", "off");
        return option;
    }

    /// <summary>A VF's settings as a plan carries them, its PF and VF found in sysfs (the PF's driver says what the VF can do).</summary>
    private static VfSettings Settings(string pf, int index, VfState desired)
    {
        var device = $"/sys/class/net/{pf}/device";
        if (!Directory.Exists(device))
            throw new ArgumentException($"pf: {pf} is not a PCI network device here");
        var virtfn = Path.Join(device, $"virtfn{index.ToString(CultureInfo.InvariantCulture)}");
        if (!Directory.Exists(virtfn))
            throw new ArgumentException($"vf: {pf} has no VF {index}");
        var driver = File.Exists(Path.Join(device, "driver")) || Directory.Exists(Path.Join(device, "driver"))
            ? Path.GetFileName(new DirectoryInfo(Path.Join(device, "driver")).ResolveLinkTarget(true)?.FullName) : null;
        var pfAddress = PciAddress.Parse(Path.GetFileName(new DirectoryInfo(device).ResolveLinkTarget(true)!.FullName));
        var vfAddress = PciAddress.Parse(Path.GetFileName(new DirectoryInfo(virtfn).ResolveLinkTarget(true)!.FullName));
        return new VfSettings("cli", pf, driver, pfAddress, vfAddress, index, desired);
    }

    private static async Task<int> Guard(CliConsole console, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (ArgumentException e)
        {
            return console.Fail(ExitCodes.Usage, e.Message);
        }
        catch (DriverException e)
        {
            return console.Fail(ExitCodes.Failed, e.Message);
        }
    }
}
