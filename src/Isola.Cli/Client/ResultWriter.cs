using System.Text.Json;
using Spectre.Console;

namespace Isola.Cli.Client;

/// <summary>
/// Prints an API answer: <c>-f table</c> a table for people, <c>-f json</c> the answer's JSON as the
/// server wrote it, <c>-f value</c> bare values for shell scripts; <c>-c</c> picks table and value columns.
/// </summary>
internal sealed class ResultWriter(CliConsole console, string format, IReadOnlyList<Column> columns)
{
    public const string Table = "table";
    public const string Json = "json";
    public const string Value = "value";

    public bool IsTable => format == Table;

    /// <summary>-f json prints the answer as is: nothing to look up for it.</summary>
    public bool IsJson => format == Json;

    /// <summary>The API's answer (compact on the wire), indented for reading; the same JSON.</summary>
    private static string Pretty(string answer) =>
        JsonSerializer.Serialize(JsonDocument.Parse(answer).RootElement, Isola.Domain.Serialization.IsolaJson.Options);

    /// <summary>An array answer: one row per element.</summary>
    public void List(string answer)
    {
        if (format == Json)
        {
            console.Out.WriteLine(Pretty(answer));
            return;
        }
        var rows = JsonDocument.Parse(answer).RootElement.EnumerateArray().ToList();
        if (format == Value)
        {
            foreach (var row in rows)
                console.Out.WriteLine(string.Join(" ", columns.Select(c => c.Value(row) ?? "")));
            return;
        }
        var table = new Table().AddColumns(columns.Select(c => new TableColumn(c.Name)).ToArray());
        foreach (var row in rows)
            table.AddRow(columns.Select(c => Markup.Escape(c.Value(row) ?? "-")).ToArray());
        console.Ansi.Write(table);
    }

    /// <summary>An object answer: one row per field. Returns the parsed answer for views that add to the table.</summary>
    public JsonElement Show(string answer)
    {
        var element = JsonDocument.Parse(answer).RootElement.Clone();
        if (format == Json)
        {
            console.Out.WriteLine(Pretty(answer));
            return element;
        }
        if (format == Value)
        {
            foreach (var column in columns)
                console.Out.WriteLine(column.Value(element) ?? "");
            return element;
        }
        var table = new Table().AddColumns("Field", "Value");
        foreach (var column in columns)
            table.AddRow(Markup.Escape(column.Name), Markup.Escape(column.Value(element) ?? "-"));
        console.Ansi.Write(table);
        return element;
    }

    /// <summary>A titled table under a show's (a policy's or group's rules): one row per element.</summary>
    public static void SubTable(CliConsole console, string title, IReadOnlyList<Column> columns, IEnumerable<JsonElement> rows)
    {
        var table = new Table().Title(title).AddColumns(columns.Select(c => new TableColumn(c.Name)).ToArray());
        foreach (var row in rows)
            table.AddRow(columns.Select(c => Markup.Escape(c.Value(row) ?? "-")).ToArray());
        console.Ansi.Write(table);
    }

    /// <summary>The columns -c asks for, in its order, out of those a command has (all when -c is not given); null names an unknown one.</summary>
    public static (IReadOnlyList<Column> Columns, string? Unknown) Select(IReadOnlyList<Column> all, IReadOnlyList<string> asked)
    {
        if (asked.Count == 0)
            return (all, null);
        var picked = new List<Column>();
        foreach (var name in asked)
        {
            var column = all.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
            if (column is null)
                return ([], name);
            picked.Add(column);
        }
        return (picked, null);
    }
}
