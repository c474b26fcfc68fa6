using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Isola.Domain.Serialization;

namespace Isola.Store.Documents;

/// <summary>
/// How a typed document is kept in a text column: written compact with Isola's JSON conventions,
/// read with the same conventions. The one place that turns a stored document into its type.
/// </summary>
public static class StoredDocuments
{
    /// <summary>A document as stored.</summary>
    public static string Write<T>(T value) => JsonSerializer.Serialize(value, IsolaJson.Compact);

    /// <summary>A stored document read back; a stored <c>null</c> is refused like malformed text.</summary>
    public static T Read<T>(string json) where T : class =>
        JsonSerializer.Deserialize<T>(json, IsolaJson.Options) ?? throw new JsonException($"a stored {NameOf<T>()} is null");

    /// <summary>Reads a stored document that may be missing or unreadable; <paramref name="problem"/> says which ("none stored", or why it does not read).</summary>
    public static bool TryRead<T>(string? json, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? problem) where T : class
    {
        value = null;
        problem = null;
        if (json is null)
        {
            problem = "none stored";
            return false;
        }
        try
        {
            value = Read<T>(json);
            return true;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>The document's name in messages: its type name split into lower-case words (PortSpec → "port spec").</summary>
    public static string NameOf<T>()
    {
        var name = typeof(T).Name;
        var words = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
                words.Append(' ');
            words.Append(char.ToLowerInvariant(name[i]));
        }
        return words.ToString();
    }
}
