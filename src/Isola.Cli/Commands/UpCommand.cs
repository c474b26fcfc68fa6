using System.CommandLine;
using Isola.Cli.Output;
using Isola.Cli.Local;
using Isola.Host.Hardware;
using Isola.Server;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola up</c>: Isola with its embedded defaults on one machine — the API server on 127.0.0.1
/// with SQLite under <c>./.isola</c>, and simulated hosts, each a generated sysfs tree with a real agent
/// over HTTP. Runs until interrupted.
/// </summary>
internal static class UpCommand
{
    public static Command Create(CliConsole console)
    {
        var hosts = new Option<int>("--hosts") { Description = "How many simulated hosts", DefaultValueFactory = _ => 2 };
        var profile = new Option<string>("--profile") { Description = "Hardware profile of the simulated hosts", DefaultValueFactory = _ => "x710-2s" };
        var dir = new Option<string>("--dir") { Description = "Working directory for the store, simulated hosts and agents", DefaultValueFactory = _ => ".isola" };
        var urls = new Option<string>("--urls") { Description = "Where the API listens", DefaultValueFactory = _ => "http://127.0.0.1:8780" };
        var libvirt = new Option<bool>("--libvirt")
        {
            Description = "This machine as the one host, with real VMs: its libvirtd, QEMU and Open vSwitch (started when they do not run; needs root then)",
        };
        var command = new Command("up", "Run Isola locally: the API server and simulated hosts with their agents (or this machine: --libvirt)") { hosts, profile, dir, urls, libvirt };
        command.SetAction(async (parse, ct) =>
        {
            var count = parse.GetValue(hosts);
            if (count is < 1 or > 64)
                return console.Fail(ExitCodes.Usage, "--hosts: must be 1-64");
            try
            {
                ProfileCatalog.Get(parse.GetValue(profile)!);
            }
            catch (ArgumentException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            var options = new LocalCloudOptions(parse.GetValue(dir)!, count, parse.GetValue(profile)!, parse.GetValue(urls)!, Libvirt: parse.GetValue(libvirt));
            LocalCloud started;
            try
            {
                started = await LocalCloud.StartAsync(options, line => console.Out.WriteLine(line), ct);
            }
            catch (ListenException e)
            {
                return console.Fail(ServeCommand.ExitCodeOf(e), $"{e.Message}; choose another with --urls");
            }
            catch (LocalCloudException e)
            {
                return console.Fail(ExitCodes.Failed, e.Message);
            }
            await using var cloud = started;
            var summary = new Table().Title(options.Libvirt ? "This machine, with libvirt" : $"Simulated hosts ({options.Profile})").AddColumns("Host", "Root", "CPUs", "Cells", "Hugepages free", "Assignable VFs", "Physnets");
            foreach (var host in cloud.Hosts)
            {
                var inv = host.Inventory;
                var pages = inv.Cells.SelectMany(c => c.Hugepages).GroupBy(h => h.PageSizeKiB).Select(g => $"{Units.PageSize(g.Key)}x{g.Sum(h => h.Free)}");
                summary.AddRow(Markup.Escape(host.Name), Markup.Escape(host.Root), $"{inv.Cpus.Count}", $"{inv.Cells.Count}", string.Join(" ", pages),
                    $"{inv.Devices.Sum(d => d.AssignableVfs.Count())}", Markup.Escape(string.Join(",", inv.Devices.Select(d => d.Physnet).OfType<string>().Distinct())));
            }
            console.Ansi.Write(summary);
            console.Out.WriteLine($"isola API on {cloud.Url} (store: {Path.Join(options.Directory, "isola.db")})");
            console.Out.WriteLine($"admin token: {cloud.AdminToken} (kept in {Path.Join(options.Directory, "admin-token")})");
            console.Out.WriteLine($"  export ISOLA_URL={cloud.Url} ISOLA_TOKEN={cloud.AdminToken}");
            if (options.Libvirt)
                console.Out.WriteLine("  real VMs: isola lab guest-image --out guest.qcow2; isola image create --file guest.qcow2 --disk-format qcow2 --project demo guest;" +
                    " isola server create --flavor tiny --image guest --nic net=internal --project demo vm1 (README: Real VMs)");
            else
                console.Out.WriteLine("  isola demo                      # the game-server and NFV scenarios, step by step");
            console.Out.WriteLine("Ctrl-C stops the server and the agents.");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
