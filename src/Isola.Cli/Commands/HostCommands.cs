using System.CommandLine;
using Isola.Cli.Client;
using Isola.Cli.Output;
using Isola.Domain.Serialization;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Hardware;

namespace Isola.Cli.Commands;

/// <summary><c>isola host ...</c>: what this machine has.</summary>
internal static class HostCommands
{
    public static Command Create(CliConsole console)
    {
        var host = new Command("host", "Host inventory: this machine's (discover), or the API's registered hosts (list)");
        host.Subcommands.Add(Discover(console));
        host.Subcommands.Add(HostVfCommands.Create(console));
        host.Subcommands.Add(HostIrqCommands.Create(console));
        host.Subcommands.Add(HostVhostCommands.Create(console));
        host.Subcommands.Add(HostListCommand.Create(console));
        host.Subcommands.Add(HostListCommand.Show(console));
        host.Subcommands.Add(HostListCommand.Set(console));
        return host;
    }

    private static Command Discover(CliConsole console)
    {
        var root = new Option<string>("--root") { Description = "Directory that holds the host's sys/ and proc/ ('/' on a real host)", DefaultValueFactory = _ => "/" };
        var config = new Option<string?>("--config") { Description = "Host configuration JSON (default: <root>/etc/isola/host.json when present)" };
        var mappings = new Option<string[]>("--physnet-mapping") { Description = "physical_device_mappings entry, e.g. physnet2:p2p1 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var excludes = new Option<string[]>("--exclude") { Description = "exclude_devices entry, e.g. p2p1:0000:08:10.1;0000:08:10.3 (repeatable)" };
        var allow = new Option<string[]>("--allow") { Description = "Allow-list entry: vendor:product (8086:10fb), address glob (0000:08:00.*) or PF netdev (repeatable)" };
        var strict = new Option<bool>("--strict") { Description = "Exit 3 when discovery reported warnings" };
        var format = CommonOptions.Format();
        var command = new Command("discover", "Read CPUs, NUMA cells, hugepages and SR-IOV devices from sysfs/procfs")
        {
            root, config, mappings, excludes, allow, strict, format,
        };
        command.SetAction(async (parse, ct) =>
        {
            var rootPath = parse.GetValue(root)!;
            if (!Directory.Exists(rootPath))
                return console.Fail(ExitCodes.Usage, $"--root: {rootPath} is not a directory");
            HostConfig hostConfig;
            try
            {
                hostConfig = LoadConfig(rootPath, parse.GetValue(config), parse.GetValue(mappings) ?? [], parse.GetValue(excludes) ?? [], parse.GetValue(allow) ?? []);
            }
            catch (ConfigException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            catch (IOException e)
            {
                return console.Fail(ExitCodes.Usage, $"--config: {e.Message}");
            }
            var topology = await new HostDiscovery(rootPath, CommandRunners.ForRoot(rootPath), hostConfig).DiscoverAsync(ct);
            if (parse.GetValue(format) == CommonOptions.Json)
                await console.Out.WriteLineAsync(InventoryDocument.Of(topology).ToJson());
            else
                TopologyView.Render(console.Ansi, topology);
            return parse.GetValue(strict) && topology.Warnings.Count > 0 ? ExitCodes.Warnings : ExitCodes.Ok;
        });
        return command;
    }

    internal static HostConfig LoadConfig(string root, string? file, string[] mappings, string[] excludes, string[] allow)
    {
        var path = file ?? Path.Join(root, SysfsTreeWriter.HostConfigPath);
        var fromFile = file is not null || File.Exists(path) ? HostConfigFile.Load(path) : new HostConfigFile(null, null, null);
        var errors = new List<ConfigError>();
        var matchers = allow.Select(a => DeviceMatcher.Parse(a, errors)).OfType<DeviceMatcher>().ToList();
        if (errors.Count > 0)
            throw new ConfigException(errors);
        return HostConfig.Parse(
            (fromFile.PhysicalDeviceMappings ?? []).Concat(mappings),
            (fromFile.ExcludeDevices ?? []).Concat(excludes),
            (fromFile.DeviceAllowList ?? []).Concat(matchers));
    }
}
