using System.CommandLine;
using System.Text.Json;
using Isola.Cli.Planning;
using Isola.Rendering;

namespace Isola.Cli.Commands;

/// <summary><c>isola render --placement FILE [--out DIR]</c>: a placement's host plan as files.</summary>
internal static class RenderCommand
{
    public static Command Create(CliConsole console)
    {
        var placement = new Option<string>("--placement") { Description = "A render-input.json (written by 'isola plan --render')", Required = true };
        var output = new Option<string?>("--out") { Description = "Directory for the plan's files (default: ./<server>)" };
        var command = new Command("render", "Render a placement's host plan: libvirt domain, VF commands, IRQ plan, host isolation, guest network config")
        {
            placement, output,
        };
        command.SetAction(parse =>
        {
            RenderBundle bundle;
            try
            {
                bundle = RenderBundle.Parse(File.ReadAllText(parse.GetValue(placement)!));
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                return console.Fail(ExitCodes.Usage, $"--placement: {e.Message}");
            }
            try
            {
                var plan = HostPlanner.Render(bundle.ToInput());
                var dir = parse.GetValue(output) ?? bundle.Placement.Server;
                HostPlanWriter.Write(plan, dir, bundle);
                console.Out.WriteLine($"wrote the host plan of {plan.Server} on {plan.Host} to {Path.GetFullPath(dir)}");
                foreach (var advice in plan.Advice)
                    console.Out.WriteLine($"kernel advice: {advice}");
                return ExitCodes.Ok;
            }
            catch (RenderException e)
            {
                return console.Fail(ExitCodes.Usage, e.Message);
            }
        });
        return command;
    }

    /// <summary>Writes the host plan of every placement of a plan run into DIR/&lt;server&gt;/.</summary>
    public static int RenderAll(CliConsole console, PlanRun run, IReadOnlyList<RequestFile.Server> servers, string dir)
    {
        var byName = servers.ToDictionary(s => s.Request.Server, StringComparer.Ordinal);
        var failed = 0;
        foreach (var placement in run.Placements)
        {
            var server = byName[placement.Server];
            var bundle = new RenderBundle(placement, server.Flavor, server.Ports, run.Fleet.Host(placement.Host)!.Topology);
            try
            {
                HostPlanWriter.Write(HostPlanner.Render(bundle.ToInput()), Path.Join(dir, placement.Server), bundle);
            }
            catch (RenderException e)
            {
                failed++;
                console.Error.WriteLine($"isola: {placement.Server}: {e.Message}");
            }
        }
        console.Error.WriteLine($"rendered {run.Placements.Count - failed} host plan(s) into {Path.GetFullPath(dir)}");
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
