using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>
/// <c>isola server stop|start|pause|unpause|migrate|evacuate SERVER...</c>, <c>reboot [--hard] SERVER</c>, <c>rebuild --image I SERVER</c>,
/// <c>resize --flavor F SERVER</c>, <c>resize confirm|revert SERVER...</c>
/// (POST /v1/servers/{id}/action, Nova's bodies) and <c>server event list|show</c> (GET /v1/servers/{id}/actions):
/// as the openstack client names them. <c>--wait</c> follows the server until its action is over, its steps on stderr.
/// </summary>
internal static class ServerActionCommands
{
    private static readonly Column[] Answer = [Column.Of("requestId"), Column.Of("action"), Column.Of("status"), Column.Of("taskState")];

    private static readonly Column[] EventColumns =
        [Column.Of("requestId"), Column.Of("action"), Column.Of("startedAt"), Column.Of("finishedAt"), Column.Of("result"), Column.Of("user")];

    private static readonly Column[] EventFields = [.. EventColumns, Column.Of("server"), Column.Of("project"), Column.Of("message")];

    public static IEnumerable<Command> Create(CliConsole console) =>
    [
        Simple(console, "stop", "os-stop", "Stop servers: the guest is asked to shut down, and powered off after the shutdown timeout"),
        Simple(console, "start", "os-start", "Start stopped (SHUTOFF) servers"),
        Simple(console, "pause", "pause", "Pause servers: their vCPUs stop, their memory and claims stay"),
        Simple(console, "unpause", "unpause", "Unpause paused servers"),
        Reboot(console),
        Rebuild(console),
        Resize(console),
        Simple(console, "migrate", "migrate", "Move servers to another host (cold: shut down, disk moved, started there); confirm or revert with 'server resize confirm|revert' (admin)"),
        Simple(console, "evacuate", "evacuate", "Rebuild servers of a host whose agent is down on other hosts, from their images (admin)"),
        Events(console),
        Console(console),
    ];

    private static Option<bool> WaitOption() => new("--wait") { Description = "Wait until the action is over (the server at rest), its steps on stderr" };

    private static Command Simple(CliConsole console, string verbName, string key, string description)
    {
        var servers = new Argument<string[]>("server") { Description = "The servers' names or ids", Arity = ArgumentArity.OneOrMore };
        var verb = ClientCommand.Create(verbName, description, console, Answer);
        verb.Command.Arguments.Add(servers);
        var wait = WaitOption();
        verb.Command.Options.Add(wait);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var names = parse.GetValue(servers)!;
            var exit = ExitCodes.Ok;
            foreach (var name in names)
            {
                try
                {
                    var code = await ActAsync(console, api, output, name, new JsonObject { [key] = null }, parse.GetValue(wait), ct);
                    exit = exit == ExitCodes.Ok ? code : exit;
                }
                catch (ApiCallException e) when (names.Length > 1 && e.ExitCode != ExitCodes.Unavailable)
                {
                    console.Fail(e.ExitCode, $"server {name}: {e.Describe()}");
                    exit = exit == ExitCodes.Ok ? e.ExitCode : exit;
                }
            }
            return exit;
        });
        return verb.Command;
    }

    private static Command Reboot(CliConsole console)
    {
        var server = new Argument<string>("server") { Description = "The server's name or id" };
        var hard = new Option<bool>("--hard") { Description = "Power the domain off and start it (default: ask the guest to shut down, then start it)" };
        var soft = new Option<bool>("--soft") { Description = "Ask the guest to shut down, then start it (the default)" };
        var verb = ClientCommand.Create("reboot", "Reboot a server", console, Answer);
        verb.Command.Arguments.Add(server);
        verb.Command.Options.Add(hard);
        verb.Command.Options.Add(soft);
        var wait = WaitOption();
        verb.Command.Options.Add(wait);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            if (parse.GetValue(hard) && parse.GetValue(soft))
                return console.Fail(ExitCodes.Usage, "--hard and --soft: one or the other");
            var body = new JsonObject { ["reboot"] = new JsonObject { ["type"] = parse.GetValue(hard) ? "HARD" : "SOFT" } };
            return await ActAsync(console, api, output, parse.GetValue(server)!, body, parse.GetValue(wait), ct);
        });
        return verb.Command;
    }

    private static Command Rebuild(CliConsole console)
    {
        var server = new Argument<string>("server") { Description = "The server's name or id" };
        var image = new Option<string>("--image") { Description = "The image (name or id) the new root disk is made from", Required = true };
        var userData = new Option<string?>("--user-data") { Description = "A file with new user-data for the guest (default: it keeps its own)" };
        var verb = ClientCommand.Create("rebuild", "Rebuild a server: a new root disk from the image and a new config drive; its data is gone", console, Answer);
        verb.Command.Arguments.Add(server);
        verb.Command.Options.Add(image);
        verb.Command.Options.Add(userData);
        var wait = WaitOption();
        verb.Command.Options.Add(wait);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var rebuild = new JsonObject { ["image"] = parse.GetValue(image) };
            if (parse.GetValue(userData) is { } file)
                rebuild["userData"] = Convert.ToBase64String(ServerCommands.ReadFile("--user-data", file));
            return await ActAsync(console, api, output, parse.GetValue(server)!, new JsonObject { ["rebuild"] = rebuild }, parse.GetValue(wait), ct);
        });
        return verb.Command;
    }

    /// <summary>
    /// <c>isola server resize --flavor F SERVER</c> (a new flavor, placed anew with the same guarantees; then VERIFY_RESIZE),
    /// <c>resize confirm SERVER</c> (the old placement given back) and <c>resize revert SERVER</c> (the old one given back exactly), as the openstack client has them.
    /// </summary>
    private static Command Resize(CliConsole console)
    {
        var server = new Argument<string>("server") { Description = "The server's name or id" };
        var flavor = new Option<string>("--flavor") { Description = "The new flavor (name or id)", Required = true };
        var verb = ClientCommand.Create("resize", "Resize a server to a new flavor: it is placed anew, shut down and started on the new placement (VERIFY_RESIZE)", console, Answer);
        verb.Command.Arguments.Add(server);
        verb.Command.Options.Add(flavor);
        var wait = WaitOption();
        verb.Command.Options.Add(wait);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["resize"] = new JsonObject { ["flavorRef"] = parse.GetValue(flavor) } };
            return await ActAsync(console, api, output, parse.GetValue(server)!, body, parse.GetValue(wait), ct);
        });
        verb.Command.Subcommands.Add(Simple(console, "confirm", "confirmResize", "Confirm a resize or migration: the placement it left is given back"));
        verb.Command.Subcommands.Add(Simple(console, "revert", "revertResize", "Revert a resize or migration: the server goes back to the placement it left, exactly"));
        return verb.Command;
    }

    /// <summary><c>isola server event list SERVER</c>, <c>event show SERVER REQUEST_ID</c>: the server's actions, as Nova's instance actions.</summary>
    private static Command Events(CliConsole console)
    {
        var group = new Command("event", "A server's actions (who asked, when, how it ended), as Nova's instance actions");
        var server = new Argument<string>("server") { Description = "The server's name or id (the id of a deleted one)" };
        var list = ClientCommand.Create("list", "List a server's actions, oldest first", console, EventColumns);
        list.Command.Arguments.Add(server);
        var paging = new ListPaging(list.Command);
        list.SetAction(async (parse, api, output, ct) =>
        {
            output.List(await paging.ReadAsync(parse, api, console, ApiClient.PathOf("servers", parse.GetValue(server)!) + "/actions", ct));
            return ExitCodes.Ok;
        });
        var showServer = new Argument<string>("server") { Description = "The server's name or id" };
        var requestId = new Argument<string>("request-id") { Description = "The action's request id (req-...)" };
        var show = ClientCommand.Create("show", "Show one of a server's actions", console, EventFields);
        show.Command.Arguments.Add(showServer);
        show.Command.Arguments.Add(requestId);
        show.SetAction(async (parse, api, output, ct) =>
        {
            output.Show(await api.GetAsync(ApiClient.PathOf("servers", parse.GetValue(showServer)!) + "/actions/" + Uri.EscapeDataString(parse.GetValue(requestId)!), ct));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(list.Command);
        group.Subcommands.Add(show.Command);
        return group;
    }

    /// <summary><c>isola server console log SERVER [--lines N]</c>: the guest's serial console as its host's agent last sent it.</summary>
    private static Command Console(CliConsole console)
    {
        var group = new Command("console", "A server's serial console");
        var server = new Argument<string>("server") { Description = "The server's name or id" };
        var lines = new Option<int?>("--lines") { Description = "Only the last N lines" };
        var log = ClientCommand.Create("log", "Print the guest's serial console log (the agent sends it after each of its cycles)", console, []);
        log.Command.Arguments.Add(server);
        log.Command.Options.Add(lines);
        log.SetAction(async (parse, api, _, ct) =>
        {
            var path = ApiClient.PathOf("servers", parse.GetValue(server)!) + "/console-log" + (parse.GetValue(lines) is { } n ? $"?lines={n}" : "");
            var answer = JsonDocument.Parse(await api.GetAsync(path, ct)).RootElement;
            console.Out.Write(Column.TextAt(answer, "output"));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(log.Command);
        return group;
    }

    /// <summary>Asks for the action; with <paramref name="wait"/>, follows the server until it is at rest and says where it ended.</summary>
    private static async Task<int> ActAsync(CliConsole console, ApiClient api, ResultWriter output, string server, JsonObject body, bool wait, CancellationToken ct)
    {
        var path = ApiClient.PathOf("servers", server);
        output.Show(await api.PostAsync(path + "/action", body, ct));
        if (!wait)
            return ExitCodes.Ok;
        var last = "";
        while (true)
        {
            var now = JsonDocument.Parse(await api.GetAsync(path, ct)).RootElement;
            var status = Column.TextAt(now, "status") ?? "";
            var task = Column.TextAt(now, "taskState");
            var step = task is null ? status : $"{status} ({task})";
            if (step != last)
                console.Error.WriteLine($"server {server}: {step}");
            last = step;
            if (task is null && status is "ACTIVE" or "SHUTOFF" or "PAUSED" or "VERIFY_RESIZE")
                return ExitCodes.Ok;
            if (status == "ERROR")
                return console.Fail(ExitCodes.Failed, $"server {server} is ERROR: {Column.TextAt(now, "fault")}");
            // A poll of the server's state (the API has no push): once a second, as `openstack server ... --wait` does.
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }
}
