using System.CommandLine;
using System.Globalization;
using Isola.Agent.Driver;
using Isola.Agent.Facets;

namespace Isola.Cli.Commands;

/// <summary><c>isola host vhost show|pin</c>: a QEMU process's vhost-net workers and their CPUs, read and pinned by the agent's driver.</summary>
internal static class HostVhostCommands
{
    public static Command Create(CliConsole console)
    {
        var vhost = new Command("vhost", "A QEMU process's vhost-net workers (threads of QEMU, or kernel threads before Linux 6.4) and their CPUs, read and pinned the way Isola's agent pins them");
        vhost.Subcommands.Add(Show(console));
        vhost.Subcommands.Add(Pin(console));
        return vhost;
    }

    /// <summary>A worker's form as the commands print it.</summary>
    public static string Form(VhostWorkerForm form) => form == VhostWorkerForm.KernelThread ? "kernel-thread" : "qemu-thread";

    private static Command Show(CliConsole console)
    {
        var pid = new Argument<int>("pid") { Description = "The QEMU process's pid" };
        var command = new Command("show",
            "Each worker named vhost-PID in TID order (the order the agent pairs them with queues): TID, form, Cpus_allowed_list, and its cpuset cgroup and CPUs when the host shows them")
        {
            pid,
        };
        command.SetAction(parse =>
        {
            foreach (var w in HostVfCommands.Driver().VhostWorkers(parse.GetValue(pid)))
            {
                var cgroup = w.Cpuset is { } c ? $" cgroup={c.Cgroup} cpuset={c.Cpus}" : "";
                console.Out.WriteLine($"{w.Tid.ToString(CultureInfo.InvariantCulture)} {Form(w.Form)} {w.Cpus}{cgroup}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Pin(CliConsole console)
    {
        var pid = new Argument<int>("pid") { Description = "The QEMU process's pid" };
        var tid = new Argument<int>("tid") { Description = "The worker's TID (from show)" };
        var cpu = new Argument<int>("cpu") { Description = "The CPU to pin it to" };
        var command = new Command("pin", "Pin one of the QEMU's vhost workers to a CPU (taskset -p -c CPU TID, as the agent does); the kernel's refusal is exit 1, said plainly") { pid, tid, cpu };
        command.SetAction(async (parse, ct) =>
        {
            var driver = HostVfCommands.Driver();
            var worker = driver.VhostWorkers(parse.GetValue(pid)).FirstOrDefault(w => w.Tid == parse.GetValue(tid));
            if (worker is null)
                return console.Fail(ExitCodes.Failed, $"{parse.GetValue(tid)} is no vhost worker of QEMU {parse.GetValue(pid)} (see isola host vhost show)");
            try
            {
                await driver.PinTaskAsync(worker.Tid, parse.GetValue(cpu).ToString(CultureInfo.InvariantCulture), ct);
                return ExitCodes.Ok;
            }
            catch (DriverException e)
            {
                var why = VhostPairing.CgroupRefusal(worker, parse.GetValue(cpu));
                return console.Fail(ExitCodes.Failed, why is null ? e.Message : $"{e.Message}\nvhost worker {worker.Tid} {why}");
            }
        });
        return command;
    }
}
