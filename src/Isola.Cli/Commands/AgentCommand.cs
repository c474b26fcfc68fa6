using System.CommandLine;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Simulation;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola agent --controller URL --token T [--root /] [--driver linux|simulated]</c>: discovers the
/// host under the root, registers it, and keeps it as its desired state says until interrupted.
/// </summary>
internal static class AgentCommand
{
    public static Command Create(CliConsole console)
    {
        var controller = new Option<string>("--controller") { Description = "The Isola API, e.g. http://127.0.0.1:8780", Required = true };
        var token = new Option<string>("--token") { Description = "This host's token (isola token create --role host --host NAME)", Required = true };
        var root = new Option<string>("--root") { Description = "Directory that holds the host's sys/ and proc/ ('/' on a real host)", DefaultValueFactory = _ => "/" };
        var driver = new Option<string>("--driver") { Description = "linux: run ip and virsh; simulated: an in-memory NIC and libvirt", DefaultValueFactory = _ => "linux" };
        var state = new Option<string>("--state-dir") { Description = "Where the agent keeps what it put on the host", DefaultValueFactory = _ => "/var/lib/isola/agent" };
        var libvirt = new Option<string>("--libvirt-uri") { Description = "virsh -c URI", DefaultValueFactory = _ => "qemu:///system" };
        var command = new Command("agent", "Run the host agent: register, then keep the host as its desired state says") { controller, token, root, driver, state, libvirt };
        command.SetAction(async (parse, ct) =>
        {
            var rootPath = parse.GetValue(root)!;
            if (!Directory.Exists(rootPath))
                return console.Fail(ExitCodes.Usage, $"--root: {rootPath} is not a directory");
            if (parse.GetValue(driver) is not ("linux" or "simulated"))
                return console.Fail(ExitCodes.Usage, "--driver: linux or simulated");
            if (parse.GetValue(driver) == "simulated" && Path.GetFullPath(rootPath) == Path.GetPathRoot(Path.GetFullPath(rootPath)))
                return console.Fail(ExitCodes.Usage, "--driver simulated: give --root a generated host tree (the simulated host writes its processes under it), not /");
            if (!Uri.TryCreate(parse.GetValue(controller), UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                return console.Fail(ExitCodes.Usage, "--controller: an http(s) URL");
            HostConfig config;
            try
            {
                config = HostCommands.LoadConfig(rootPath, null, [], [], []);
            }
            catch (ConfigException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            var inventory = await new HostDiscovery(rootPath, CommandRunners.ForRoot(rootPath), config).DiscoverAsync(ct);
            ICommandRunner runner = parse.GetValue(driver) == "simulated" ? new SimulatedHost(inventory, rootPath) : new ProcessCommandRunner();
            var stateDir = parse.GetValue(state)!;
            var agent = new HostAgent(inventory, ControllerClient.Create(url, parse.GetValue(token)!, inventory.Hostname),
                new HostDriver(runner, rootPath, stateDir, parse.GetValue(libvirt)!), new AppliedStore(stateDir), TimeProvider.System);
            console.Out.WriteLine($"agent for {inventory.Hostname} ({parse.GetValue(driver)} driver) on {url}");
            await agent.RunAsync(ct);
            return ExitCodes.Ok;
        });
        return command;
    }
}
