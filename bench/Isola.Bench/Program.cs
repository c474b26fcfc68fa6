using Isola.Bench;

if (args.Length > 0 && args[0] == "api")
    return await ApiBench.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "agent")
    return await AgentBench.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "flows")
    return FlowBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "vm")
    return await VmBench.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "store")
    return await StoreBench.RunAsync(args[1..]);

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

Console.WriteLine("## Placement engine benchmark");
Console.WriteLine();
Console.WriteLine("```");
Console.WriteLine($"dotnet run -c Release --project bench/Isola.Bench -- {string.Join(' ', args)}".TrimEnd());
Console.WriteLine("```");
Console.WriteLine();
foreach (var fact in Machine.Facts())
    Console.WriteLine($"- {fact}");
Console.WriteLine(Report.Inv($"- Hosts: {Fleets.Profile} ({Fleets.Topology.Cells.Count} sockets, {Fleets.Topology.Devices.Count(d => d.Physnet is not null)} PFs on physnet2), one topology object shared by all"));
Console.WriteLine(Report.Inv($"- Decisions: engine {options.Decisions} after {BenchOptions.Warmup} warm-up; naive {string.Join(", ", options.Hosts.Select(h => Report.Inv($"{options.NaiveDecisionsFor(h)} at {h:n0}")))}; seed {options.Seed}"));
Console.WriteLine();

var runner = new Runner(options, Console.Error);
if (options.Breakdown)
{
    foreach (var hosts in options.Hosts)
    {
        foreach (var shape in options.Shapes)
            Console.WriteLine(Breakdown.Run(runner, options, hosts, shape));
    }
    return 0;
}
foreach (var shape in options.Shapes)
{
    var runs = new List<(RunResult, RunResult)>();
    foreach (var hosts in options.Hosts)
    {
        Console.Error.WriteLine($"{shape} at {hosts} hosts");
        runs.Add(runner.Run(hosts, shape));
    }
    Console.WriteLine(Report.Table(shape, runner.CapacityPerHost(shape), runs));
}
return 0;
