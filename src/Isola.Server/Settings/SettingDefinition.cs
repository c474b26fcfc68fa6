namespace Isola.Server.Settings;

/// <summary>
/// One server setting: its key in the <c>Isola</c> section of appsettings.json (and in <c>ISOLA__KEY</c>),
/// its command-line flag, its rule, and how it goes into <see cref="ServerSettings"/>.
/// </summary>
/// <param name="IsList">Several values: a JSON array, <c>ISOLA__KEY__0</c>... or one comma-separated value, a repeated flag.</param>
/// <param name="Check">Why one value is wrong, or null when it is right.</param>
public sealed record SettingDefinition(
    string Key,
    string Flag,
    string Description,
    bool IsList,
    Func<string, string?> Check,
    Func<ServerSettings, IReadOnlyList<string>, ServerSettings> Apply);
