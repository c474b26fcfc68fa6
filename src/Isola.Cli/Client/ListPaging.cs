using System.CommandLine;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>A list verb's filter flag: <c>--host H</c> sends <c>?host=H</c>.</summary>
internal sealed record ListFlag(string Flag, string Parameter, string Description)
{
    /// <summary><c>--name N</c>: the ones of that name (as the API matches it: exactly; a part of a server's name).</summary>
    public static IReadOnlyList<ListFlag> Name(string kind) => [new("--name", "name", $"Only {kind}s of this name")];
}

/// <summary>
/// <c>--limit N</c>, <c>--marker M</c> and a list's filter flags, and how a list is read: with <c>--limit</c> one
/// page (the API's Link header names the next; its marker is printed to standard error), without it every page
/// from the marker (or the first) to the last, read <see cref="PageSize"/> at a time and printed as one list,
/// as the openstack client pages through a whole list.
/// </summary>
internal sealed class ListPaging
{
    /// <summary>The page size the client reads whole lists with (the API's largest).</summary>
    public const int PageSize = 1000;

    private readonly Option<int?> _limit = new("--limit") { Description = "Show at most N (1-1000), one page; without it every page is read" };
    private readonly Option<string?> _marker = new("--marker") { Description = "Start after this one (the id, or a host's name, of the last of the previous page)" };
    private readonly List<(Option<string?> Option, string Parameter)> _filters = [];

    public ListPaging(Command command, IReadOnlyList<ListFlag>? flags = null)
    {
        foreach (var flag in flags ?? [])
        {
            var option = new Option<string?>(flag.Flag) { Description = flag.Description };
            _filters.Add((option, flag.Parameter));
            command.Options.Add(option);
        }
        command.Options.Add(_limit);
        command.Options.Add(_marker);
    }

    /// <summary>The list at <paramref name="path"/> (no query of its own) as one JSON array, read as the flags say.</summary>
    public async Task<string> ReadAsync(ParseResult parse, ApiClient api, CliConsole console, string path, CancellationToken ct)
    {
        var limit = parse.GetValue(_limit);
        if (limit is < 1 or > PageSize)
            throw new ArgumentException($"--limit: {limit} is not a page size: a whole number 1-{PageSize}");
        var query = _filters.Select(f => (f.Parameter, Value: parse.GetValue(f.Option))).Where(f => f.Value is not null)
            .Append(("limit", (limit ?? PageSize).ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Append(("marker", parse.GetValue(_marker)))
            .Where(q => q.Item2 is not null)
            .Select(q => $"{q.Item1}={Uri.EscapeDataString(q.Item2!)}");
        var (text, next) = await api.GetPageAsync($"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}{string.Join('&', query)}", ct);
        if (limit is not null)
        {
            if (next is not null && Marker(next) is { } more)
                console.Error.WriteLine($"isola: more after this page: --marker {more}");
            return text;
        }
        if (next is null)
            return text;
        var all = (JsonArray)JsonNode.Parse(text)!;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (next is not null && seen.Add(next)) // a link seen before would loop forever
        {
            (text, next) = await api.GetPageAsync(next, ct);
            foreach (var item in ((JsonArray)JsonNode.Parse(text)!).ToList())
                all.Add(item!.DeepClone());
        }
        return all.ToJsonString();
    }

    /// <summary>The marker a next-page link carries.</summary>
    private static string? Marker(string link)
    {
        var query = link.IndexOf('?', StringComparison.Ordinal) is var q and >= 0 ? link[(q + 1)..] : "";
        return query.Split('&').Select(p => p.Split('=', 2)).Where(p => p.Length == 2 && p[0] == "marker").Select(p => Uri.UnescapeDataString(p[1])).LastOrDefault();
    }
}
