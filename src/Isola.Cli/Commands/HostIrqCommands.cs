using System.CommandLine;
using System.Globalization;
using Isola.Agent.Driver;
using Isola.Domain.Pci;

namespace Isola.Cli.Commands;

/// <summary><c>isola host irq show|set</c>: a PCI function's MSI/MSI-X vectors and where they fire, read and written by the agent's driver.</summary>
internal static class HostIrqCommands
{
    public static Command Create(CliConsole console)
    {
        var irq = new Command("irq", "A PCI function's interrupt vectors and their CPUs, read and set the way Isola's agent steers them");
        irq.Subcommands.Add(Show(console));
        irq.Subcommands.Add(Set(console));
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
}
