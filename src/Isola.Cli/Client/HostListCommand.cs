using System.CommandLine;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>
/// <c>isola host list|show</c>: GET /v1/hosts, each registered host's zone and how much of it is claimed;
/// <c>isola host set --disable [--disable-reason R] | --enable NAME</c>: take a host out of scheduling (admin).
/// </summary>
internal static class HostListCommand
{
    private static readonly Column[] Columns =
    [
        Column.Of("name"), Column.Of("zone"), Column.Of("aggregates"), Column.Of("generation"), Column.Of("enabled"), Column.Of("disabledReason"), Column.Of("agent"),
        Column.Of("pinned", h => Column.UsedOf(h, "pinnedUsed", "pinnedTotal")), Column.Of("vfs", h => Column.UsedOf(h, "vfsUsed", "vfsTotal")),
        // "invalid: why" for a host whose stored inventory the scheduler cannot use.
        Column.Of("inventory", h => Column.TextAt(h, "inventoryProblem") is { } problem ? $"invalid: {problem}" : Column.TextAt(h, "inventoryStatus")),
    ];

    public static Command Create(CliConsole console) => ResourceVerbs.List(console, "hosts", "host", Columns, filters:
    [
        new("--zone", "zone", "Only hosts in this availability zone"),
        new("--enabled", "enabled", "true: only hosts that take new servers; false: only disabled ones"),
        new("--agent", "agent", "Only hosts whose agent is up, down or never-reported"),
    ]);

    public static Command Show(CliConsole console) => ResourceVerbs.Show(console, "hosts", "host", Columns);

    public static Command Set(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The host" };
        var disable = new Option<bool>("--disable") { Description = "Take it out of scheduling (what it holds stays)" };
        var enable = new Option<bool>("--enable") { Description = "Put it back" };
        var reason = new Option<string?>("--disable-reason") { Description = "Why (shown in host list)" };
        var verb = ClientCommand.Create("set", "Enable or disable a host for new servers", console, Columns);
        verb.Command.Arguments.Add(name);
        verb.Command.Options.Add(disable);
        verb.Command.Options.Add(enable);
        verb.Command.Options.Add(reason);
        verb.Command.Validators.Add(r =>
        {
            if (r.GetValue(disable) == r.GetValue(enable))
                r.AddError("say --disable or --enable");
        });
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["enabled"] = parse.GetValue(enable) }.With("disabledReason", parse.GetValue(reason));
            output.Show(await api.PatchAsync(ApiClient.PathOf("hosts", parse.GetValue(name)!), body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }
}
