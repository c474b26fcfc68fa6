using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;

namespace Isola.Domain.Serialization;

/// <summary>
/// Checks an inventory document's JSON against the records it is read into, before it is read: every
/// field present, <c>null</c> only where the record's field may be null, no <c>null</c> in an array,
/// each value of the JSON type its field takes (whole numbers that fit, strings, true/false, objects,
/// arrays, enum words). Unknown fields are ignored. The serializer's contract for the records is the
/// schema, so a field added to a record is checked without a change here. The cpulists of a document
/// may name at most <see cref="MaxCpuIds"/> CPUs in all, counted without expanding them: a small
/// document of <c>"0-65535"</c> lists must not cost gigabytes to read.
/// </summary>
internal sealed class InventoryShape(List<InventoryError> errors, int maxErrors)
{
    public const long MaxCpuIds = 1 << 20;

    private static readonly JsonSerializerOptions Options = IsolaJson.Options;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, IReadOnlyList<string>> EnumWords = new();
    private long _cpuIds;

    private bool Full => errors.Count >= maxErrors;

    public static void Check(JsonElement document, List<InventoryError> errors, int maxErrors) =>
        new InventoryShape(errors, maxErrors).Value(document, typeof(InventoryDocument), "", null);

    private void Value(JsonElement e, Type declared, string path, JsonConverter? fieldConverter)
    {
        if (Full)
            return;
        var type = Nullable.GetUnderlyingType(declared) ?? declared;
        if (fieldConverter is not null)
        {
            Expect(e, JsonValueKind.String, path, TextHint(fieldConverter.GetType()));
            return;
        }
        if (type.IsEnum)
        {
            var words = EnumWords.GetOrAdd(type, static t => Enum.GetValues(t).Cast<object>().Select(v => JsonSerializer.Serialize(v, t, Options).Trim('"')).ToList());
            if (e.ValueKind != JsonValueKind.String || !words.Contains(e.GetString()!, StringComparer.OrdinalIgnoreCase))
                Add(path, $"must be one of: {string.Join(", ", words)}");
            return;
        }
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Boolean:
                if (e.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    Add(path, "must be true or false");
                return;
            case TypeCode.Int32:
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out _))
                    Add(path, $"must be a whole number from {int.MinValue} to {int.MaxValue}");
                return;
            case TypeCode.Int64:
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out _))
                    Add(path, $"must be a whole number from {long.MinValue} to {long.MaxValue}");
                return;
            case TypeCode.String:
                Expect(e, JsonValueKind.String, path, "a string");
                return;
        }
        var info = Options.GetTypeInfo(type);
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                Object(e, info, path);
                return;
            case JsonTypeInfoKind.Enumerable:
                Array(e, info.ElementType!, path);
                return;
            default:
                // A type the options read with a converter (CpuSet, PciAddress, PciId): all take strings.
                if (Expect(e, JsonValueKind.String, path, TextHint(type)) && type == typeof(CpuSet))
                    CountCpus(e.GetString()!, path);
                return;
        }
    }

    private void Object(JsonElement e, JsonTypeInfo info, string path)
    {
        if (!Expect(e, JsonValueKind.Object, path, "an object"))
            return;
        // Only the constructor's fields are data; the records' other properties are [JsonIgnore]d views.
        foreach (var field in info.Properties.Where(p => p.AssociatedParameter is not null))
        {
            var at = path.Length == 0 ? field.Name : $"{path}.{field.Name}";
            if (!Member(e, field.Name, out var value))
            {
                // A field added in a later release has a default: documents from before it may lack it.
                if (field.AssociatedParameter!.HasDefaultValue is false)
                    Add(at, "required");
            }
            else if (value.ValueKind == JsonValueKind.Null)
            {
                if (!field.IsSetNullable)
                    Add(at, "must not be null");
            }
            else
                Value(value, field.PropertyType, at, field.CustomConverter);
        }
    }

    // A field as the reader finds it: by its name, else case-insensitively (the last of duplicates).
    private static bool Member(JsonElement e, string name, out JsonElement value)
    {
        if (e.TryGetProperty(name, out value))
            return true;
        var found = false;
        foreach (var member in e.EnumerateObject())
        {
            if (string.Equals(member.Name, name, StringComparison.OrdinalIgnoreCase))
                (value, found) = (member.Value, true);
        }
        return found;
    }

    private void Array(JsonElement e, Type itemType, string path)
    {
        if (!Expect(e, JsonValueKind.Array, path, "an array"))
            return;
        var i = 0;
        foreach (var item in e.EnumerateArray())
        {
            var at = $"{path}[{i++}]";
            if (item.ValueKind == JsonValueKind.Null)
                Add(at, "must not be null");
            else
                Value(item, itemType, at, null);
        }
    }

    private bool Expect(JsonElement e, JsonValueKind kind, string path, string what)
    {
        if (e.ValueKind == kind)
            return true;
        Add(path, $"must be {what}");
        return false;
    }

    private static string TextHint(Type type) =>
        type == typeof(CpuSet) ? "a cpulist string such as \"0-3,8\" (\"\" for none)"
        : type == typeof(PciAddress) ? "a PCI address string DDDD:BB:DD.F"
        : type == typeof(PciId) ? "a PCI id string vendor:device (\"8086:10fb\")"
        : type == typeof(ClassCodeConverter) ? "a class code string 0xCCSSPP"
        : type == typeof(Hex16Converter) ? "a string of 4 hex digits"
        : "a string";

    // Sums the sizes of the list's ranges as written ("0-3,8": 5) without expanding them; a list that
    // does not parse counts nothing here: the reader refuses it with its own message.
    private void CountCpus(string cpulist, string path)
    {
        foreach (var part in cpulist.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
                _cpuIds++;
            else if (long.TryParse(part.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                     && long.TryParse(part.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var last) && last >= first)
                _cpuIds += Math.Min(last - first + 1, MaxCpuIds + 1);
        }
        if (_cpuIds > MaxCpuIds)
        {
            Add(path, $"the document's cpulists name more than {MaxCpuIds} CPUs in all");
            _cpuIds = long.MinValue; // said once
        }
    }

    private void Add(string path, string rule)
    {
        if (!Full)
            errors.Add(new InventoryError(path, rule));
    }
}
