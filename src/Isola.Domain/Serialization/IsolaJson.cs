using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;

namespace Isola.Domain.Serialization;

/// <summary>
/// The JSON conventions of every Isola document: camelCase names, enums as kebab-case words, CPU
/// sets as kernel cpulists ("0-3,8"), PCI addresses and ids in the kernel's text form.
/// </summary>
public static class IsolaJson
{
    public static JsonSerializerOptions Options { get; } = Create(indented: true);

    public static JsonSerializerOptions Compact { get; } = Create(indented: false);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = indented,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            // Documents are read by people and tools, not embedded in HTML: no \u003C for "<".
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.Converters.Add(new CpuSetConverter());
        options.Converters.Add(new PciAddressConverter());
        options.Converters.Add(new PciIdConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private sealed class CpuSetConverter : JsonConverter<CpuSet>
    {
        public override CpuSet Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            CpuSet.TryParse(reader.GetString(), out var set, out var error) ? set : throw new JsonException(error);

        public override void Write(Utf8JsonWriter writer, CpuSet value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }

    private sealed class PciAddressConverter : JsonConverter<PciAddress>
    {
        public override PciAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            PciAddress.TryParse(reader.GetString(), out var a) ? a : throw new JsonException($"'{reader.GetString()}' is not a PCI address DDDD:BB:DD.F");

        public override void Write(Utf8JsonWriter writer, PciAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }

    private sealed class PciIdConverter : JsonConverter<PciId>
    {
        public override PciId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            PciId.TryParse(reader.GetString(), out var id) ? id : throw new JsonException($"'{reader.GetString()}' is not a PCI id vendor:device");

        public override void Write(Utf8JsonWriter writer, PciId value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}

/// <summary>A 16-bit id written as 4 hex digits ("10ed"), as pci.ids and lspci -n write it.</summary>
public sealed class Hex16Converter : JsonConverter<ushort?>
{
    public override bool HandleNull => true;

    public override ushort? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null
        : PciId.TryParseHex16(reader.GetString(), out var v) ? v : throw new JsonException($"'{reader.GetString()}' is not 4 hex digits");

    public override void Write(Utf8JsonWriter writer, ushort? value, JsonSerializerOptions options)
    {
        if (value is { } v)
            writer.WriteStringValue(v.ToString("x4", CultureInfo.InvariantCulture));
        else
            writer.WriteNullValue();
    }
}

/// <summary>A 24-bit PCI class code written as sysfs writes it ("0x020000").</summary>
public sealed class ClassCodeConverter : JsonConverter<int>
{
    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var s = reader.GetString() ?? "";
        return s.StartsWith("0x", StringComparison.Ordinal) && int.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            ? v : throw new JsonException($"'{s}' is not a class code 0xCCSSPP");
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) =>
        writer.WriteStringValue("0x" + value.ToString("x6", CultureInfo.InvariantCulture));
}
