using Microsoft.Extensions.Configuration;

namespace Isola.Server.Settings;

/// <summary>Where <c>isola serve</c>'s settings come from.</summary>
/// <param name="ConfigFile">A JSON file that must exist (<c>--config</c>); null: <c>appsettings.json</c> in <paramref name="WorkingDirectory"/> when it is there.</param>
/// <param name="Environment">The process environment: <c>ISOLA__KEY</c> variables (and <c>ISOLA_STORE</c>, the older name of <c>ISOLA__Store</c>).</param>
/// <param name="Flags">Values given on the command line, by setting key.</param>
public sealed record SettingsSources(
    string? ConfigFile,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Flags);

/// <summary>
/// Reads <see cref="ServerSettings"/> from three layers, each setting from the first that has it: flags,
/// then <c>ISOLA__*</c> environment variables, then the <c>Isola</c> section of the JSON file; the rest keep
/// their defaults. A list is taken whole from one layer. Every unknown key and every wrong value is reported
/// together, naming where it came from.
/// </summary>
public static class ServerConfiguration
{
    public const string Section = "Isola";

    public const string DefaultFile = "appsettings.json";

    private const string EnvironmentPrefix = "ISOLA__";

    /// <param name="only">Read and check only these settings (others are left at their defaults); null: all.</param>
    public static ServerSettings Load(SettingsSources sources, IReadOnlySet<string>? only = null)
    {
        var errors = new List<string>();
        var layers = new List<Layer> { FlagLayer(sources.Flags), EnvironmentLayer(sources.Environment) };
        if (FileLayer(sources, errors) is { } file)
            layers.Add(file);
        var known = ServerSettingDefinitions.All.Select(d => d.Key).Concat(ServerSettingDefinitions.OthersKeys).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var layer in layers.Skip(1))
        {
            foreach (var key in layer.Section.GetChildren().Select(c => c.Key).Where(k => !known.Contains(k)))
                errors.Add($"{layer.Describe(key)}: no such setting; there are {string.Join(", ", ServerSettingDefinitions.All.Select(d => d.Key))}");
        }
        var settings = new ServerSettings();
        foreach (var definition in ServerSettingDefinitions.All.Where(d => only is null || only.Contains(d.Key)))
        {
            var layer = layers.FirstOrDefault(l => l.Section.GetSection(definition.Key).Exists());
            if (layer is null)
                continue;
            var where = layer.Describe(definition.Key);
            var values = Values(layer.Section.GetSection(definition.Key), definition, where, errors);
            var wrong = values.Select(v => definition.Check(v)).OfType<string>().ToList();
            errors.AddRange(wrong.Select(w => $"{where}: {w}"));
            if (values.Count > 0 && wrong.Count == 0)
                settings = definition.Apply(settings, values);
            else if (values.Count == 0 && definition.IsList)
                settings = definition.Apply(settings, []);
        }
        return errors.Count > 0 ? throw new SettingsException(errors) : settings;
    }

    /// <summary>The values of one setting: a scalar, or a list (array items, or one comma-separated value).</summary>
    private static List<string> Values(IConfigurationSection section, SettingDefinition definition, string where, List<string> errors)
    {
        var items = section.GetChildren().ToList();
        if (items.Count == 0)
        {
            var value = section.Value ?? "";
            if (!definition.IsList)
                return [value];
            return [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }
        if (!definition.IsList)
        {
            errors.Add($"{where}: must be one value, not a list or an object");
            return [];
        }
        var values = new List<string>();
        foreach (var item in items)
        {
            if (item.Value is null)
                errors.Add($"{where}:{item.Key}: must be a string, not a list or an object");
            else
                values.Add(item.Value);
        }
        return values;
    }

    /// <summary>One place settings come from: its Isola section, and how it names a key in an error.</summary>
    private sealed record Layer(IConfiguration Section, Func<string, string> Describe);

    private static Layer FlagLayer(IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, values) in flags)
        {
            var definition = ServerSettingDefinitions.All.Single(d => d.Key == key);
            if (definition.IsList)
            {
                // An empty list given on purpose is still given: an empty value, which reads as no entries.
                if (values.Count == 0)
                    data[key] = "";
                for (var i = 0; i < values.Count; i++)
                    data[$"{key}:{i}"] = values[i];
            }
            else
            {
                data[key] = values[^1];
            }
        }
        var flagOf = ServerSettingDefinitions.All.ToDictionary(d => d.Key, d => d.Flag, StringComparer.OrdinalIgnoreCase);
        return new Layer(new ConfigurationBuilder().AddInMemoryCollection(data).Build(), key => flagOf[key]);
    }

    private static Layer EnvironmentLayer(IReadOnlyDictionary<string, string> environment)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (environment.TryGetValue("ISOLA_STORE", out var store))
        {
            data["Store"] = store;
            names["Store"] = "ISOLA_STORE";
        }
        foreach (var (name, value) in environment.Where(e => e.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)))
        {
            // As ASP.NET reads them: ISOLA__VlanRanges__0 is Isola:VlanRanges:0.
            var key = name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal);
            data[key] = value;
            var setting = key.Split(':')[0];
            names[setting] = name[..(EnvironmentPrefix.Length + setting.Length)];
        }
        return new Layer(new ConfigurationBuilder().AddInMemoryCollection(data).Build(), key => names.GetValueOrDefault(key, EnvironmentPrefix + key));
    }

    /// <summary>The file's Isola section; null when there is no file to read (or it does not parse: then an error says so).</summary>
    private static Layer? FileLayer(SettingsSources sources, List<string> errors)
    {
        var path = Path.GetFullPath(sources.ConfigFile ?? DefaultFile, sources.WorkingDirectory);
        if (!File.Exists(path))
        {
            if (sources.ConfigFile is not null)
                errors.Add($"--config: no file {path}");
            return null;
        }
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            var why = e;
            while (why.InnerException is not null)
                why = why.InnerException;
            errors.Add($"{path}: not a JSON settings file ({why.Message})");
            return null;
        }
        return new Layer(root.GetSection(Section), key => $"{Section}:{key} in {path}");
    }
}
