using System.Globalization;
using Isola.Server;
using Isola.Server.Settings;

namespace Isola.Tests.Server.Settings;

/// <summary>docs/cli.md's <c>isola serve</c> section names every setting <see cref="ServerSettingDefinitions"/> has, with its flag and default.</summary>
public class ServeDocsTests
{
    /// <summary>The serve section: from its heading to the next.</summary>
    private static readonly string[] Doc = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "docs", "cli.md"))
        .SkipWhile(l => !l.StartsWith("## `isola serve ", StringComparison.Ordinal))
        .TakeWhile((l, i) => i == 0 || !l.StartsWith("## ", StringComparison.Ordinal)).ToArray();

    /// <summary>The rows of the settings table: key, flag, default.</summary>
    private static Dictionary<string, (string Flag, string Default)> Table() => Doc
        .Where(l => l.StartsWith("| `", StringComparison.Ordinal) && l.Contains("` | `--", StringComparison.Ordinal))
        .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
        .ToDictionary(c => c[1].Trim('`'), c => (c[2], c[3]));

    private static string DefaultOf(SettingDefinition d) =>
        typeof(ServerSettings).GetProperty(d.Key)!.GetValue(new ServerSettings()) switch
        {
            null => "none",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var v => $"`{v}`",
        };

    [Fact]
    public void The_settings_table_has_one_row_per_setting_with_its_flag_and_default()
    {
        var table = Table();
        Assert.Equal(ServerSettingDefinitions.All.Select(d => d.Key), table.Keys);
        foreach (var d in ServerSettingDefinitions.All)
        {
            Assert.StartsWith($"`{d.Flag}`", table[d.Key].Flag, StringComparison.Ordinal);
            Assert.Equal(d.IsList, table[d.Key].Flag.Contains("(repeatable)", StringComparison.Ordinal));
            Assert.Equal(DefaultOf(d), table[d.Key].Default);
        }
    }

    [Fact]
    public void The_synopsis_and_the_unknown_key_example_name_every_setting()
    {
        var synopsis = Doc.Single(l => l.StartsWith("## `isola serve ", StringComparison.Ordinal));
        foreach (var d in ServerSettingDefinitions.All)
            Assert.Contains($"[{d.Flag} ", synopsis, StringComparison.Ordinal);
        var example = Doc.Single(l => l.Contains("no such setting; there are ", StringComparison.Ordinal));
        Assert.EndsWith("there are " + string.Join(", ", ServerSettingDefinitions.All.Select(d => d.Key)), example, StringComparison.Ordinal);
    }
}
