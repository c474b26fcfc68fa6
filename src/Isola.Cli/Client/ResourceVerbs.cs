using System.CommandLine;
using System.Text.Json;

namespace Isola.Cli.Client;

/// <summary>The list, show and delete verbs, which are the same for every resource but for its path and columns.</summary>
internal static class ResourceVerbs
{
    /// <summary>Looks up what the table needs beyond the answer (names of ids it holds); not called for -f json.</summary>
    public delegate Task Resolver(ApiClient api, JsonElement answer, CancellationToken ct);

    /// <summary>Runs <paramref name="resolve"/> on an answer unless it is printed as JSON.</summary>
    public static async Task ResolveAsync(Resolver? resolve, ResultWriter output, ApiClient api, string answer, CancellationToken ct)
    {
        if (resolve is not null && !output.IsJson)
            await resolve(api, JsonDocument.Parse(answer).RootElement.Clone(), ct);
    }

    /// <summary><c>isola KIND list [FILTER FLAGS] [--limit N] [--marker M]</c>: GET /v1/COLLECTION, every page unless --limit is given (<see cref="ListPaging"/>).</summary>
    public static Command List(CliConsole console, string collection, string kind, IReadOnlyList<Column> columns, Resolver? resolve = null,
        IReadOnlyList<ListFlag>? filters = null)
    {
        var verb = ClientCommand.Create("list", $"List {kind}s", console, columns);
        var paging = new ListPaging(verb.Command, filters);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var answer = await paging.ReadAsync(parse, api, console, $"/v1/{collection}", ct);
            await ResolveAsync(resolve, output, api, answer, ct);
            output.List(answer);
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary><c>isola KIND show NAME|ID</c>: GET /v1/COLLECTION/{id}; <paramref name="more"/> adds to the table.</summary>
    public static Command Show(
        CliConsole console, string collection, string kind, IReadOnlyList<Column> fields, Action<CliConsole, JsonElement>? more = null, Resolver? resolve = null)
    {
        var id = new Argument<string>("name") { Description = $"The {kind}'s name or id" };
        var verb = ClientCommand.Create("show", $"Show a {kind}", console, fields);
        verb.Command.Arguments.Add(id);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var answer = await api.GetAsync(ApiClient.PathOf(collection, parse.GetValue(id)!), ct);
            await ResolveAsync(resolve, output, api, answer, ct);
            var shown = output.Show(answer);
            if (output.IsTable)
                more?.Invoke(console, shown);
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary><c>isola KIND delete NAME|ID...</c>: each one in turn; the exit code is the first failure's. An unreachable API stops it.</summary>
    public static Command Delete(CliConsole console, string collection, string kind)
    {
        var ids = new Argument<string[]>("name") { Description = $"The {kind}s' names or ids", Arity = ArgumentArity.OneOrMore };
        var verb = ClientCommand.Create("delete", $"Delete {kind}s", console, []);
        verb.Command.Arguments.Add(ids);
        verb.SetAction(async (parse, api, _, ct) =>
        {
            var names = parse.GetValue(ids)!;
            var exit = ExitCodes.Ok;
            var failed = 0;
            foreach (var name in names)
            {
                try
                {
                    await api.DeleteAsync(ApiClient.PathOf(collection, name), ct);
                }
                catch (ApiCallException e) when (e.ExitCode != ExitCodes.Unavailable)
                {
                    console.Fail(e.ExitCode, $"{kind} {name}: {e.Describe()}");
                    exit = exit == ExitCodes.Ok ? e.ExitCode : exit;
                    failed++;
                }
            }
            if (failed > 0 && names.Length > 1)
                console.Error.WriteLine($"isola: {failed} of {names.Length} {kind}s not deleted");
            return exit;
        });
        return verb.Command;
    }
}
