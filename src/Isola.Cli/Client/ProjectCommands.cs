using System.CommandLine;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola project create|list</c> and <c>isola token create|list|delete|reset-admin</c>: /v1/projects and /v1/tokens.</summary>
internal static class ProjectCommands
{
    private static readonly Column[] ProjectFields = [Column.Of("id"), Column.Of("name")];

    private static readonly Column[] TokenFields =
        [Column.Of("id"), Column.Of("role"), Column.Of("project"), Column.Of("host"), Column.Of("secret")];

    public static Command Projects(CliConsole console)
    {
        var group = new Command("project", "Projects (admin), through the API");
        var name = new Argument<string>("name") { Description = "The project's name" };
        var create = ClientCommand.Create("create", "Create a project", console, ProjectFields);
        create.Command.Arguments.Add(name);
        create.SetAction(async (parse, api, output, ct) =>
        {
            output.Show(await api.PostAsync("/v1/projects", new JsonObject { ["name"] = parse.GetValue(name) }, ct));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(create.Command);
        group.Subcommands.Add(ResourceVerbs.List(console, "projects", "project", ProjectFields, filters: ListFlag.Name("project")));
        return group;
    }

    public static Command Tokens(CliConsole console)
    {
        var group = new Command("token", "API tokens, through the API (reset-admin: on the store)");
        var role = new Option<string>("--role") { Description = "member (of --project), admin, or host (of --host)", DefaultValueFactory = _ => "member" };
        role.AcceptOnlyFromAmong("member", "admin", "host");
        var project = new Option<string?>("--project") { Description = "The project of a member token (name or id)" };
        var host = new Option<string?>("--host") { Description = "The host of a host token" };
        var create = ClientCommand.Create("create", "Create a token; its secret is printed once and stored only hashed", console, TokenFields);
        create.Command.Options.Add(role);
        create.Command.Options.Add(project);
        create.Command.Options.Add(host);
        create.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["role"] = parse.GetValue(role) }.With("project", parse.GetValue(project)).With("host", parse.GetValue(host));
            output.Show(await api.PostAsync("/v1/tokens", body, ct));
            if (output.IsTable)
                console.Out.WriteLine("The secret is shown this once; the server keeps only its hash.");
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(create.Command);
        // Project names where the token may list projects (an admin), else the ids.
        var projects = new NameLookup();
        Column[] listed =
        [
            Column.Of("id"), Column.Of("role"), Column.Of("project", t => Column.TextAt(t, "project") is { } id ? projects.Of(id) : null),
            Column.Of("host"), Column.Of("created"),
        ];
        group.Subcommands.Add(ResourceVerbs.List(console, "tokens", "token", listed, (api, _, ct) => projects.LoadAsync(api, "projects", ct),
            [new("--role", "role", "Only tokens of this role (admin, member, host)")]));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "tokens", "token"));
        group.Subcommands.Add(Commands.TokenResetAdminCommand.Create(console));
        return group;
    }
}
