using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Isola.Cli.Planning;
using Isola.Domain.Serialization;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary><c>isola capacity</c>: how many more servers of one shape fit.</summary>
internal static class CapacityCommand
{
    public static Command Create(CliConsole console)
    {
        var fleet = PlanningOptions.Fleet();
        var inventory = PlanningOptions.Inventory();
        var flavor = new Option<string>("--flavor")
        {
            Description = "A flavor of --requests' file by name, or inline: vcpus=8,ram=16384,hw:cpu_policy=dedicated,hw:mem_page_size=1GB",
            Required = true,
        };
        var ports = new Option<string[]>("--port") { Description = "A port of each server: TYPE[:PHYSNET[:ha]], e.g. direct:physnet2:ha (repeatable)" };
        var requests = new Option<string?>("--requests") { Description = "Place this file's servers first (the load already there)" };
        var strategy = new Option<string>("--strategy") { Description = "spread or pack", DefaultValueFactory = _ => "spread" };
        strategy.AcceptOnlyFromAmong("spread", "pack");
        var max = new Option<int>("--max") { Description = "Stop counting here", DefaultValueFactory = _ => 1_000_000 };
        var seed = PlanningOptions.Seed();
        var format = CommonOptions.Format();
        var command = new Command("capacity", "How many more servers of a shape fit on a fleet")
        {
            fleet, inventory, flavor, ports, requests, strategy, max, seed, format,
        };
        command.SetAction(parse =>
        {
            PlanRun run;
            Flavor shape;
            List<(VnicType Type, string? Physnet, bool Ha)> portSpecs;
            var macs = new MacAllocator(parse.GetValue(seed));
            try
            {
                var file = parse.GetValue(requests) is { } path ? RequestFile.Load(path) : new RequestFile();
                run = new PlanRun(FleetSpec.Build(parse.GetValue(fleet) ?? [], parse.GetValue(inventory) ?? [], SchedulingOptions.Default));
                run.AddGroups(file.Groups);
                foreach (var server in file.Requests(macs))
                    run.Place(server.Request);
                shape = ParseFlavor(parse.GetValue(flavor)!, file);
                portSpecs = (parse.GetValue(ports) ?? []).Select(ParsePort).ToList();
                _ = Build(shape, portSpecs, 0, macs, Strategy.Spread);
            }
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            catch (RequestValidationException e)
            {
                return console.Fail(ExitCodes.Usage, string.Join("; ", e.Errors));
            }
            var already = run.Placements.Count;
            var chosen = parse.GetValue(strategy) == "pack" ? Strategy.Pack : Strategy.Spread;
            var limit = parse.GetValue(max);
            Isola.Scheduling.Pipeline.PlacementResult? last = null;
            PlanningOptions.WithProgress(console, limit, "counting", step =>
            {
                for (var n = 1; n <= limit; n++)
                {
                    last = run.Place(Build(shape, portSpecs, n, macs, chosen));
                    step();
                    if (!last.Succeeded)
                        break;
                }
            });
            var fit = run.Placements.Count - already;
            var perHost = run.Placements.Skip(already).GroupBy(p => p.Host).Select(g => g.Count()).ToList();
            var stoppedBy = last is { Succeeded: false } ? last.Rejections : [];
            if (parse.GetValue(format) == CommonOptions.Json)
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    flavor = shape,
                    fit,
                    hostsUsed = perHost.Count,
                    maxPerHost = perHost.Count == 0 ? 0 : perHost.Max(),
                    stoppedBy,
                    reachedMax = fit == limit,
                }, IsolaJson.Options));
                return ExitCodes.Ok;
            }
            console.Ansi.MarkupLine($"[bold]{fit}[/] more {Markup.Escape(shape.Name)} server(s) fit on {perHost.Count} of {run.Fleet.Hosts.Count} hosts" +
                (perHost.Count == 0 ? "" : $" (up to {perHost.Max()} per host)") + (already > 0 ? $", after the {already} placed from --requests" : ""));
            if (fit == limit)
                console.Out.WriteLine($"stopped at --max {limit}");
            foreach (var reason in stoppedBy)
                console.Out.WriteLine($"the next one does not fit: {reason}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static PlacementRequest Build(Flavor flavor, List<(VnicType Type, string? Physnet, bool Ha)> ports, int n, MacAllocator macs, Strategy strategy) =>
        PlacementRequest.Create($"{flavor.Name}-{n}", flavor,
            ports.Select((p, i) => new PortRequest($"port{i}", p.Type, p.Physnet, p.Ha, macs.Next())).ToList(), strategy: strategy);

    /// <summary>A flavor by name from the requests file, or inline "vcpus=8,ram=16384,disk=20,hw:...=...".</summary>
    private static Flavor ParseFlavor(string text, RequestFile file)
    {
        if (!text.Contains('=', StringComparison.Ordinal))
            return file.Flavor(text, "--flavor");
        int vcpus = 0, disk = 0;
        long ram = 0;
        var specs = new Dictionary<string, string>();
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = eq > 0 ? (pair[..eq], pair[(eq + 1)..]) : throw new ArgumentException($"--flavor: '{pair}' is not key=value");
            switch (key)
            {
                case "vcpus":
                    vcpus = Number(key, value);
                    break;
                case "ram":
                    ram = Number(key, value);
                    break;
                case "disk":
                    disk = Number(key, value);
                    break;
                default:
                    specs[key] = value;
                    break;
            }
        }
        return new Flavor($"{vcpus}vcpu-{ram}MiB", vcpus, ram, disk, specs);

        static int Number(string key, string value) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"--flavor: {key}='{value}' is not a whole number");
    }

    private static (VnicType, string?, bool) ParsePort(string text)
    {
        var parts = text.Split(':');
        var type = RequestFile.ParseVnicType(parts[0], "--port");
        if (parts.Length > 3 || (parts.Length == 3 && parts[2] != "ha"))
            throw new ArgumentException($"--port: '{text}' is not TYPE[:PHYSNET[:ha]]");
        return (type, parts.Length > 1 ? parts[1] : null, parts.Length == 3);
    }
}
