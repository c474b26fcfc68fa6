using System.CommandLine;
using System.Text.Json;
using Isola.Cli.Output;
using Isola.Cli.Planning;
using Isola.Domain.Serialization;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Spectre.Console;

namespace Isola.Cli.Commands;

/// <summary><c>isola plan</c>: place a file of requests on a fleet, in order, and show the result.</summary>
internal static class PlanCommand
{
    public static Command Create(CliConsole console)
    {
        var fleet = PlanningOptions.Fleet();
        var inventory = PlanningOptions.Inventory();
        var requests = new Option<string>("--requests") { Description = "Requests file (YAML or JSON): flavors, groups, servers", Required = true };
        var seed = PlanningOptions.Seed();
        var show = new Option<int>("--show") { Description = "Rows to show per table", DefaultValueFactory = _ => 50 };
        var render = new Option<string?>("--render") { Description = "Write each placement's host plan into DIR/<server>/" };
        var format = CommonOptions.Format();
        var command = new Command("plan", "Place requests on a fleet (simulated or from inventory files) and show placements, reasons and utilisation")
        {
            fleet, inventory, requests, seed, show, render, format,
        };
        command.SetAction(parse =>
        {
            PlanRun run;
            List<RequestFile.Server> list;
            try
            {
                var file = RequestFile.Load(parse.GetValue(requests)!);
                run = new PlanRun(FleetSpec.Build(parse.GetValue(fleet) ?? [], parse.GetValue(inventory) ?? [], SchedulingOptions.Default));
                run.AddGroups(file.Groups);
                list = file.Requests(new MacAllocator(parse.GetValue(seed))).ToList();
            }
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
            PlanningOptions.WithProgress(console, list.Count, "placing", step =>
            {
                foreach (var server in list)
                {
                    run.Place(server.Request);
                    step();
                }
            });
            var exit = ExitCodes.Ok;
            if (parse.GetValue(render) is { } dir)
                exit = RenderCommand.RenderAll(console, run, list, dir);
            if (parse.GetValue(format) == CommonOptions.Json)
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    placements = run.Placements,
                    failures = run.Failures,
                    utilisation = run.Fleet.Hosts.Where(h => h.Generation > 0).Select(HostUtilisation.Of),
                }, IsolaJson.Options));
            }
            else
            {
                PlanView.Placements(console.Ansi, run, parse.GetValue(show));
                PlanView.Summary(console.Ansi, run, parse.GetValue(show));
            }
            return exit;
        });
        return command;
    }
}

internal static class PlanningOptions
{
    public static Option<string[]> Fleet() => new("--fleet")
    {
        Description = "Simulated hosts: PROFILE:COUNT[@ZONE], comma-separated or repeated (e.g. x710-2s:1000@az1)",
    };

    public static Option<string[]> Inventory() => new("--inventory")
    {
        Description = "Inventory files from 'isola host discover -f json', FILE[@ZONE] (repeatable)",
        AllowMultipleArgumentsPerToken = true,
    };

    public static Option<int> Seed() => new("--seed") { Description = "Seed for generated port MACs", DefaultValueFactory = _ => 1 };

    /// <summary>Runs <paramref name="work"/>, with a progress bar when a person watches and the work is long.</summary>
    public static void WithProgress(CliConsole console, int total, string what, Action<Action> work)
    {
        if (!console.Interactive || total < 500)
        {
            work(() => { });
            return;
        }
        console.Ansi.Progress().Start(ctx =>
        {
            // Past 100,000 steps the total is only a bound (capacity's --max): show activity, not a share.
            var task = ctx.AddTask(what, maxValue: total);
            task.IsIndeterminate = total > 100_000;
            work(() => task.Increment(1));
            task.Value = task.MaxValue;
        });
    }
}
