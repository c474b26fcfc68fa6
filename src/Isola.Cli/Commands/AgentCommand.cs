using System.CommandLine;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Simulation;
using Isola.Domain.Topology;

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
        var tunnelIp = new Option<string?>("--tunnel-ip") { Description = "This host's VXLAN/GRE endpoint address (Neutron's local_ip); without it, no tunnels" };
        var integration = new Option<string>("--integration-bridge") { Description = "The OVS bridge virtio ports are plugged into", DefaultValueFactory = _ => "br-int" };
        var mappings = new Option<string?>("--bridge-mappings") { Description = "physnet:bridge[,...]: the OVS bridge holding each physical network's NIC" };
        var datapath = new Option<string?>("--ovs-datapath") { Description = "datapath_type of the integration bridge when the agent creates it (system, netdev)" };
        var noOvs = new Option<bool>("--no-ovs") { Description = "Leave Open vSwitch alone (hosts with SR-IOV ports only)" };
        var instances = new Option<string>("--instances-dir")
        {
            Description = "Where the host keeps its servers' disks, config drives and console logs (the plans point there)",
            DefaultValueFactory = _ => HostVirtualization.Default.InstancesDirectory,
        };
        var domainType = new Option<string>("--domain-type")
        {
            Description = "libvirt domain type: auto (kvm when /dev/kvm exists and a KVM guest boots, else qemu), kvm or qemu (QEMU's translator, no KVM)",
            DefaultValueFactory = _ => "auto",
        };
        var command = new Command("agent", "Run the host agent: register, then keep the host as its desired state says")
        {
            controller, token, root, driver, state, libvirt, tunnelIp, integration, mappings, datapath, noOvs, instances, domainType,
        };
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
            if (parse.GetValue(tunnelIp) is { } ip && !System.Net.IPAddress.TryParse(ip, out _))
                return console.Fail(ExitCodes.Usage, $"--tunnel-ip: '{ip}' is not an IP address");
            var instancesDir = parse.GetValue(instances)!;
            if (!instancesDir.StartsWith('/') || instancesDir.Contains('\0') || instancesDir.Split('/').Contains(".."))
                return console.Fail(ExitCodes.Usage, $"--instances-dir: '{instancesDir}' is not an absolute path (a host path, without '..')");
            var type = parse.GetValue(domainType)!;
            if (type != "auto" && !HostVirtualization.IsDomainType(type))
                return console.Fail(ExitCodes.Usage, $"--domain-type: '{type}' is not auto, {HostVirtualization.Kvm} or {HostVirtualization.Qemu}");
            Isola.Rendering.Flows.OvsLayout layout;
            try
            {
                layout = Isola.Rendering.Flows.OvsLayout.Parse(parse.GetValue(integration)!, parse.GetValue(mappings));
            }
            catch (FormatException e)
            {
                return console.Fail(ExitCodes.Usage, $"--bridge-mappings: {e.Message}");
            }
            HostConfig config;
            try
            {
                config = HostCommands.LoadConfig(rootPath, null, [], [], []);
            }
            catch (ConfigException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            var discovered = await new HostDiscovery(rootPath, CommandRunners.ForRoot(rootPath), config).DiscoverAsync(ct);
            // What the agent's settings say of how the host runs guests goes into the inventory: the server renders the plans with it.
            // auto on a real host: /dev/kvm is no proof (a nested KVM guest may hang in early boot), so KVM is tried
            // once (a tiny guest must boot within 30 s) before the host says kvm; a simulated host is taken at its word.
            if (type == "auto" && discovered.Virt.DomainType == HostVirtualization.Kvm && parse.GetValue(driver) != "simulated" && rootPath == "/")
            {
                console.Error.WriteLine("agent: /dev/kvm is there; trying a KVM guest (at most 30 s) ...");
                switch (await Isola.Host.Boot.KvmProbe.KvmBootsAsync(ct: ct))
                {
                    case false:
                        type = HostVirtualization.Qemu;
                        console.Error.WriteLine("agent: a KVM guest did not boot here: domains run under QEMU's translator (qemu); --domain-type kvm overrides");
                        break;
                    case null:
                        console.Error.WriteLine("warning: KVM could not be tried (no kernel under /boot, static busybox or qemu-system-x86_64): the host says kvm as /dev/kvm does");
                        break;
                }
            }
            var inventory = WithVirtualization(discovered, instancesDir, type);
            if (type == HostVirtualization.Kvm && discovered.Virt.DomainType != HostVirtualization.Kvm)
                console.Error.WriteLine($"warning: --domain-type kvm, but {Path.Join(rootPath, "dev/kvm")} is not there: libvirt will not start KVM domains on this host");
            ICommandRunner runner = parse.GetValue(driver) == "simulated" ? new SimulatedHost(inventory, rootPath) : new ProcessCommandRunner();
            var stateDir = parse.GetValue(state)!;
            var client = ControllerClient.Create(url, parse.GetValue(token)!, inventory.Hostname, parse.GetValue(tunnelIp));
            // The controller is also where images come from (GET /v1/images/{id}/file with the host's token).
            var agent = new HostAgent(inventory, client,
                new HostDriver(runner, rootPath, stateDir, parse.GetValue(libvirt)!, instancesDir, images: client), new AppliedStore(stateDir), TimeProvider.System)
            {
                Ovs = parse.GetValue(noOvs) ? null : new OvsCycle(new OvsDriver(runner, stateDir, parse.GetValue(datapath)), layout),
                Log = console.Out.WriteLine,
            };
            console.Out.WriteLine($"agent for {inventory.Hostname} ({parse.GetValue(driver)} driver, {inventory.Virt.DomainType} domains, instances in {instancesDir}) on {url}");
            await agent.RunAsync(ct);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The discovered inventory with the agent's instances directory and, unless <c>auto</c> (discovery's word), its domain type.</summary>
    internal static HostTopology WithVirtualization(HostTopology discovered, string instancesDirectory, string domainType) =>
        discovered with
        {
            Virtualization = discovered.Virt with
            {
                InstancesDirectory = instancesDirectory,
                DomainType = domainType == "auto" ? discovered.Virt.DomainType : domainType,
            },
        };
}
