using System.CommandLine;
using Isola.Cli.Client;
using Isola.Cli.Commands;

namespace Isola.Cli;

/// <summary>The isola command line: one place that lists every command.</summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("Isola: placement and host configuration for SR-IOV and NFV virtual machines on KVM.");
        root.Subcommands.Add(UpCommand.Create(console));
        root.Subcommands.Add(DemoCommand.Create(console));
        root.Subcommands.Add(AgentCommand.Create(console));
        root.Subcommands.Add(HostCommands.Create(console));
        root.Subcommands.Add(FixtureCommand.Create(console));
        root.Subcommands.Add(LabCommand.Create(console));
        root.Subcommands.Add(PlanCommand.Create(console));
        root.Subcommands.Add(CapacityCommand.Create(console));
        root.Subcommands.Add(RenderCommand.Create(console));
        root.Subcommands.Add(ServeCommand.Create(console));
        root.Subcommands.Add(ProjectCommands.Projects(console));
        root.Subcommands.Add(ProjectCommands.Tokens(console));
        root.Subcommands.Add(NetworkCommands.Create(console));
        root.Subcommands.Add(SubnetCommands.Create(console));
        root.Subcommands.Add(SecurityGroupCommands.Create(console));
        root.Subcommands.Add(PortCommands.Create(console));
        root.Subcommands.Add(FlavorCommands.Create(console));
        root.Subcommands.Add(ImageCommands.Create(console));
        root.Subcommands.Add(ServerCommands.Create(console));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                console.Error.WriteLine($"isola: {error.Message}");
            console.Error.WriteLine("Try 'isola --help'.");
            return ExitCodes.Usage;
        }
        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error };
        return await parse.InvokeAsync(invocation, cancellationToken);
    }
}
