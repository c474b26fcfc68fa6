using System.CommandLine;
using Isola.Cli.Output;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Fixtures;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola up</c>: Isola with its embedded defaults on one machine. Today it generates simulated
/// hosts under <c>./.isola/hosts</c> and shows what discovery finds on each; the control plane and
/// agents join it as they are built.
/// </summary>
internal static class UpCommand
{
    public static Command Create(CliConsole console)
    {
        var hosts = new Option<int>("--hosts") { Description = "How many simulated hosts", DefaultValueFactory = _ => 2 };
        var profile = new Option<string>("--profile") { Description = "Hardware profile of the simulated hosts", DefaultValueFactory = _ => "ixgbe-2s-smt" };
        var dir = new Option<string>("--dir") { Description = "Working directory for state and simulated hosts", DefaultValueFactory = _ => ".isola" };
        var command = new Command("up", "Run Isola locally with simulated hosts") { hosts, profile, dir };
        command.SetAction(async (parse, ct) =>
        {
            var count = parse.GetValue(hosts);
            if (count is < 1 or > 64)
                return console.Fail(ExitCodes.Usage, "--hosts: must be 1-64");
            HardwareProfile hw;
            try
            {
                hw = ProfileCatalog.Get(parse.GetValue(profile)!);
            }
            catch (ArgumentException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            var hostsDir = Path.Join(parse.GetValue(dir), "hosts");
            var summary = new Table().Title($"Simulated hosts ({hw.Name})")
                .AddColumns("Host", "Root", "CPUs", "Cells", "Hugepages free", "SR-IOV PFs", "Assignable VFs", "Physnets", "Warnings");
            for (var i = 1; i <= count; i++)
            {
                var name = $"{hw.Hostname}-{i}";
                var root = Path.Join(hostsDir, name);
                SysfsTreeWriter.Write(ProfileExpander.Expand(hw, name), hw.HostConfig, root, replace: true);
                var config = HostConfigFile.Load(Path.Join(root, SysfsTreeWriter.HostConfigPath)).ToConfig();
                var host = await new HostDiscovery(root, CommandRunners.ForRoot(root), config).DiscoverAsync(ct);
                var pages = host.Cells.SelectMany(c => c.Hugepages).GroupBy(h => h.PageSizeKiB)
                    .Select(g => $"{Units.PageSize(g.Key)}x{g.Sum(h => h.Free)}");
                summary.AddRow(Markup.Escape(host.Hostname), Markup.Escape(root), $"{host.Cpus.Count}", $"{host.Cells.Count}",
                    string.Join(" ", pages), $"{host.Devices.Count(d => d.TotalVfs > 0)}",
                    $"{host.Devices.Sum(d => d.AssignableVfs.Count())}",
                    Markup.Escape(string.Join(",", host.Devices.Select(d => d.Physnet).OfType<string>().Distinct())),
                    $"{host.Warnings.Count}");
            }
            console.Ansi.Write(summary);
            console.Out.WriteLine($"Inspect one: isola host discover --root {Path.Join(hostsDir, $"{hw.Hostname}-1")}");
            console.Out.WriteLine("Placement, the API server and host agents are not built yet; `isola up` will start them here as they land.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
