using System.CommandLine;
using Isola.Lab;

namespace Isola.Cli.Commands;

/// <summary><c>isola lab run [--shape S] [--keep DIR] -- COMMAND...</c>: a command in a lab host booted for it.</summary>
internal static class LabCommand
{
    public static Command Create(CliConsole console)
    {
        var lab = new Command("lab", "A real-kernel SR-IOV lab host under QEMU (docs/lab.md)");
        var shape = new Option<string>("--shape")
        {
            Description = "The lab's hardware: nodes=N,mem=MiB,nic=NODE:VFS,...,nvme=NODE:VFS,iommu=on|off",
            DefaultValueFactory = _ => "nodes=2,mem=1024,nic=0:4,nic=1:4",
        };
        var keep = new Option<string?>("--keep") { Description = "Keep the lab's files (console log, jobs and their output) in this directory" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds the command may take", DefaultValueFactory = _ => 600 };
        var argv = new Argument<string[]>("command") { Description = "The command to run in the lab: one argument is a shell command line ('a; b | c'), several are a program and its arguments, passed as given", Arity = ArgumentArity.OneOrMore };
        var run = new Command("run", "Boot a lab host, run a command in it as root, print its output, power it off; exits with the command's code")
        {
            shape, keep, timeout, argv,
        };
        run.SetAction(async (parse, ct) =>
        {
            LabShape parsed;
            try
            {
                parsed = LabShape.Parse(parse.GetValue(shape)!);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                return console.Fail(ExitCodes.Usage, $"--shape: {e.Message}");
            }
            try
            {
                var options = LabOptions.FromEnvironment() with { Directory = parse.GetValue(keep) };
                console.Error.WriteLine($"lab: booting {parse.GetValue(shape)} ...");
                var started = System.Diagnostics.Stopwatch.StartNew();
                await using var host = await LabHost.BootAsync(parsed, options, ct);
                console.Error.WriteLine($"lab: up in {started.Elapsed.TotalSeconds:0} s ({host.Accel.ToString().ToLowerInvariant()}, kernel {host.KernelRelease}); " +
                                        string.Join(", ", host.Devices.Select(d => $"{d.Address} {d.Id} node {d.NumaNode} {d.Vfs} VFs")));
                var result = await host.RunAsync(CommandLine(parse.GetValue(argv)!), TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
                console.Out.Write(result.Output);
                return result.ExitCode;
            }
            catch (LabException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
        });
        lab.Subcommands.Add(run);
        lab.Subcommands.Add(GuestImageCommand(console));
        lab.Subcommands.Add(DebianImageCommand(console));
        return lab;
    }

    /// <summary><c>isola lab guest-image --out FILE</c>: Isola's small test guest (busybox, reads its NoCloud config drive) as a disk image.</summary>
    private static Command GuestImageCommand(CliConsole console)
    {
        var output = new Option<string>("--out") { Description = "The image file to write (qcow2; raw when it ends in .raw or .img)", Required = true };
        var command = new Command("guest-image", "Build Isola's small test guest image from this machine's kernel and busybox (docs/lab.md)") { output };
        command.SetAction(async (parse, ct) =>
        {
            if (Isola.Lab.Guest.GuestImage.Missing() is { } missing)
                return console.Fail(ExitCodes.Failed, $"the guest image cannot be built here: {missing}");
            try
            {
                var file = parse.GetValue(output)!;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                await Isola.Lab.Guest.GuestImage.BuildAsync(file, ct);
                console.Error.WriteLine($"guest image: {file}, {new FileInfo(file).Length / 1024} KiB, in {clock.Elapsed.TotalSeconds:0.0} s");
                console.Out.WriteLine(Path.GetFullPath(file));
                return ExitCodes.Ok;
            }
            catch (LabException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
        });
        return command;
    }

    /// <summary><c>isola lab debian-image --out FILE</c>: a small Debian 12 guest with Debian's cloud-init (debootstrap; root).</summary>
    private static Command DebianImageCommand(CliConsole console)
    {
        var output = new Option<string>("--out") { Description = "The qcow2 image file to write", Required = true };
        var mirror = new Option<string?>("--mirror") { Description = "The Debian mirror (default: the one this machine's apt uses for bookworm)" };
        var command = new Command("debian-image", "Build a small Debian 12 guest image with Debian's cloud-init from Debian packages (debootstrap; docs/lab.md)") { output, mirror };
        command.SetAction(async (parse, ct) =>
        {
            if (Isola.Lab.Guest.DebianImage.Missing() is { } missing)
                return console.Fail(ExitCodes.Failed, $"the Debian guest image cannot be built here: {missing}");
            try
            {
                var file = parse.GetValue(output)!;
                await Isola.Lab.Guest.DebianImage.BuildAsync(file, parse.GetValue(mirror) ?? Isola.Lab.Guest.DebianImage.Mirror(), line => console.Error.WriteLine("debian image: " + line), ct);
                console.Out.WriteLine(Path.GetFullPath(file));
                return ExitCodes.Ok;
            }
            catch (LabException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
        });
        return command;
    }

    /// <summary>
    /// The job's shell line: one argument is a shell command line as it is; several are a program and its
    /// arguments, each single-quoted, so <c>-- sh -c 'a; b'</c> runs what it says (unlike ssh, which joins them).
    /// </summary>
    internal static string CommandLine(IReadOnlyList<string> argv) =>
        argv.Count == 1 ? argv[0] : string.Join(' ', argv.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
}
