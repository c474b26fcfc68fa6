using System.CommandLine;
using Isola.Host.Hardware;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary><c>isola fixture --profile NAME --out DIR</c>: a simulated host's sysfs/procfs tree.</summary>
internal static class FixtureCommand
{
    public static Command Create(CliConsole console)
    {
        var profile = new Option<string?>("--profile") { Description = "A built-in profile name or a profile YAML file" };
        var output = new Option<string?>("--out") { Description = "Directory to write the tree into (must be empty or missing)" };
        var hostname = new Option<string?>("--hostname") { Description = "Host name (default: the profile's)" };
        var force = new Option<bool>("--force") { Description = "Replace a tree generated earlier in --out" };
        var list = new Option<bool>("--list") { Description = "List the built-in profiles" };
        var command = new Command("fixture", "Write the sysfs/procfs tree of a simulated host from a hardware profile")
        {
            profile, output, hostname, force, list,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(list))
                return ListProfiles(console);
            var name = parse.GetValue(profile);
            var dir = parse.GetValue(output);
            if (name is null || dir is null)
                return console.Fail(ExitCodes.Usage, "fixture: --profile and --out are required (or --list)");
            HardwareProfile hw;
            Domain.Topology.HostTopology topology;
            try
            {
                hw = ProfileCatalog.Get(name);
                topology = ProfileExpander.Expand(hw, parse.GetValue(hostname));
            }
            catch (ArgumentException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            try
            {
                SysfsTreeWriter.Write(topology, hw.HostConfig, dir, parse.GetValue(force));
            }
            catch (IOException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
            var vfs = topology.Devices.Sum(d => d.Vfs.Count);
            console.Out.WriteLine($"wrote {topology.Hostname} ({hw.Name}: {topology.Cpus.Count} CPUs, {topology.Cells.Count} NUMA cells, " +
                                  $"{topology.Devices.Count} PCI functions, {vfs} VFs) to {Path.GetFullPath(dir)}");
            console.Out.WriteLine($"try: isola host discover --root {dir}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static int ListProfiles(CliConsole console)
    {
        var table = new Table().AddColumns("Profile", "Description");
        foreach (var p in ProfileCatalog.BuiltIn)
            table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.Description));
        console.Ansi.Write(table);
        return ExitCodes.Ok;
    }
}
