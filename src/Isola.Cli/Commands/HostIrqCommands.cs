using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Domain.Serialization;
using Isola.Rendering.Isolation;
using Isola.Domain.Pci;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola host irq show|set|steer|restore</c>: a PCI function's MSI/MSI-X vectors and where they fire, read and written by the
/// agent's driver; <c>steer</c> and <c>restore</c> run one cycle of the agent's interrupt steering for a plan's rules by hand.
/// </summary>
internal static class HostIrqCommands
{
    public static Command Create(CliConsole console)
    {
        var irq = new Command("irq", "A PCI function's interrupt vectors and their CPUs, read and set the way Isola's agent steers them");
        irq.Subcommands.Add(Show(console));
        irq.Subcommands.Add(Set(console));
        irq.Subcommands.Add(Steer(console));
        irq.Subcommands.Add(Restore(console));
        return irq;
    }

    private static Command Show(CliConsole console)
    {
        var function = new Argument<string>("function") { Description = "The PCI function's address (DDDD:BB:DD.F)" };
        var command = new Command("show", "Each vector (sys/bus/pci/devices/F/msi_irqs) and its smp_affinity_list; 'none' until its driver requested it") { function };
        command.SetAction(parse =>
        {
            if (!PciAddress.TryParse(parse.GetValue(function), out var address))
                return console.Fail(ExitCodes.Usage, $"function: '{parse.GetValue(function)}' is not a PCI address DDDD:BB:DD.F");
            var driver = HostVfCommands.Driver();
            foreach (var irq in driver.MsiIrqs(address))
                console.Out.WriteLine($"{irq.ToString(CultureInfo.InvariantCulture)} {driver.IrqAffinity(irq) ?? "none"}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Set(CliConsole console)
    {
        var irq = new Argument<int>("irq") { Description = "The IRQ number" };
        var cpus = new Argument<string>("cpus") { Description = "A cpulist (0-3,8)" };
        var command = new Command("set", "Write the IRQ's smp_affinity_list") { irq, cpus };
        command.SetAction(parse =>
        {
            try
            {
                HostVfCommands.Driver().SetIrqAffinity(parse.GetValue(irq), parse.GetValue(cpus)!);
                return ExitCodes.Ok;
            }
            catch (DriverException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
        });
        return command;
    }

    private static Option<string> StateDir() => new("--state-dir")
    {
        Description = "Where the affinities before are kept (as the agent keeps a server's)",
        DefaultValueFactory = _ => Path.Join(Path.GetTempPath(), "isola-irq-steering"),
    };

    private static Command Steer(CliConsole console)
    {
        var file = new Option<string>("--irqs")
        {
            Description = "A host plan's irqs part as JSON (rules: port, device, driver, passthrough, queues [{vcpu, pcpu}], misc {vcpu, pcpu})",
            Required = true,
        };
        var state = StateDir();
        var command = new Command("steer", "Steer the rules' devices' vectors once, as the agent's cycle does for a running server: each queue vector to its vCPU's pCPU, the misc vector to the housekeeping CPU")
        {
            file, state,
        };
        command.SetAction(async (parse, ct) =>
        {
            IrqAffinityPlan? irqs;
            try
            {
                irqs = JsonSerializer.Deserialize<IrqAffinityPlan>(await File.ReadAllTextAsync(parse.GetValue(file)!, ct), IsolaJson.Options);
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                return console.Fail(ExitCodes.Usage, $"--irqs: {e.Message}");
            }
            if (irqs?.Rules is null)
                return console.Fail(ExitCodes.Usage, "--irqs: no rules");
            return await Run(console, () => new IrqSteering(HostVfCommands.Driver(), parse.GetValue(state)!).SteerAsync(irqs with { Guest = irqs.Guest ?? [], Vhost = irqs.Vhost ?? [] }, ct));
        });
        return command;
    }

    private static Command Restore(CliConsole console)
    {
        var state = StateDir();
        var command = new Command("restore", "Put back the affinity each vector had before 'steer' (a host driver's; vfio-pci vectors go with their domain)") { state };
        command.SetAction(async (parse, ct) => await Run(console, () => new IrqSteering(HostVfCommands.Driver(), parse.GetValue(state)!).RestoreAsync(ct)));
        return command;
    }

    /// <summary>Runs a steering cycle and prints a line per step: <c>steer IRQ CPUS (was BEFORE)[ drift: ...]</c>, <c>restore IRQ CPUS</c>.</summary>
    private static async Task<int> Run(CliConsole console, Func<Task<IReadOnlyList<Isola.Agent.Reconcile.Step>>> cycle)
    {
        try
        {
            foreach (var step in await cycle())
            {
                var line = step switch
                {
                    IrqFacet.SteerIrq s => $"steer {s.Irq.ToString(CultureInfo.InvariantCulture)} {s.Cpus} (was {s.Before})" + (s.Drift is null ? "" : $" drift: {s.Drift}"),
                    IrqFacet.RestoreIrq r => $"restore {r.Irq.ToString(CultureInfo.InvariantCulture)} {r.Cpus}",
                    _ => step.ToString(),
                };
                await console.Out.WriteLineAsync(line);
            }
            return ExitCodes.Ok;
        }
        catch (DriverException e)
        {
            return console.Fail(ExitCodes.Failed, e.Message);
        }
    }
}
