using System.CommandLine;
using Isola.Server.Settings;

namespace Isola.Cli.Commands;

/// <summary>A flag per server setting (from <see cref="ServerSettingDefinitions"/>), and the values given of them.</summary>
internal sealed class ServerFlags
{
    private readonly List<(SettingDefinition Definition, Option Option)> _options = ServerSettingDefinitions.All
        .Select(d => (d, d.IsList ? (Option)new Option<string[]>(d.Flag) { Description = d.Description } : new Option<string?>(d.Flag) { Description = d.Description }))
        .ToList();

    /// <summary>Only some of them (reset-admin takes the store only).</summary>
    public ServerFlags(params string[] only)
    {
        if (only.Length > 0)
            _options.RemoveAll(o => !only.Contains(o.Definition.Key));
    }

    public void AddTo(Command command)
    {
        foreach (var (_, option) in _options)
            command.Options.Add(option);
    }

    /// <summary>The flags given on the command line, by setting key; the others are left to the environment and the file.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Given(ParseResult parse)
    {
        var given = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (definition, option) in _options)
        {
            if (parse.GetResult(option) is null)
                continue;
            given[definition.Key] = option switch
            {
                Option<string[]> list => parse.GetValue(list) ?? [],
                Option<string?> one => [parse.GetValue(one) ?? ""],
                _ => throw new InvalidOperationException(definition.Key),
            };
        }
        return given;
    }
}
