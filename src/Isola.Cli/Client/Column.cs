using System.Globalization;
using System.Text.Json;

namespace Isola.Cli.Client;

/// <summary>One column of a list, or one row of a show: its name (what -c selects) and how to read it from the API's JSON.</summary>
/// <param name="Value">The cell's text; null for nothing there (shown as "-").</param>
internal sealed record Column(string Name, Func<JsonElement, string?> Value)
{
    /// <summary>A column that shows one property of the answer: <c>Column.Of("segment")</c>.</summary>
    public static Column Of(string property) => new(property, e => TextAt(e, property));

    public static Column Of(string name, Func<JsonElement, string?> value) => new(name, value);

    /// <summary>A column that shows a nested property: <c>Column.At("vnicType", "spec", "vnicType")</c>.</summary>
    public static Column At(string name, params string[] path) => new(name, e => TextAt(e, path));

    /// <summary>The text of a nested property, null when any step is missing.</summary>
    public static string? TextAt(JsonElement e, params string[] path) => Text(path.Aggregate(e, Property));

    /// <summary>A property of an object, or Undefined when it (or the object) is not there.</summary>
    public static JsonElement Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    /// <summary>A JSON value as a cell: strings as they are, numbers and booleans as JSON writes them, objects as compact JSON.</summary>
    public static string? Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => null,
        JsonValueKind.String => v.GetString(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.Array when v.GetArrayLength() == 0 => null,
        JsonValueKind.Array => string.Join(", ", v.EnumerateArray().Select(x => Text(x) ?? "-")),
        _ => JsonSerializer.Serialize(v),
    };

    /// <summary>"used/total" of two number properties.</summary>
    public static string UsedOf(JsonElement e, string used, string total) =>
        string.Create(CultureInfo.InvariantCulture, $"{TextAt(e, used) ?? "?"}/{TextAt(e, total) ?? "?"}");
}
