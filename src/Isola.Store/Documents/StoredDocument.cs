namespace Isola.Store.Documents;

/// <summary>
/// A typed document as a row carries it: the stored text, and the value it stands for, read from
/// the text the first time someone asks. Readers that only pass a document on (the agent's poll,
/// a plan cache hit) never pay for parsing it; writers give the value and the text is made once.
/// </summary>
public sealed class StoredDocument<T> where T : class
{
    private T? _value;

    private StoredDocument(string json, T? value)
    {
        Json = json;
        _value = value;
    }

    /// <summary>The document as stored (compact JSON).</summary>
    public string Json { get; }

    /// <summary>The document's value, read on first use; a document that does not read throws <see cref="System.Text.Json.JsonException"/>.</summary>
    public T Value =>
        // Two first readers racing may both parse; one value wins and both get it (documents are immutable).
        Volatile.Read(ref _value) ?? Interlocked.CompareExchange(ref _value, StoredDocuments.Read<T>(Json), null) ?? _value!;

    /// <summary>A document for a value about to be stored (the value is kept: it must not change afterwards, or it would not be what <see cref="Json"/> says).</summary>
    public static StoredDocument<T> Of(T value) => new(StoredDocuments.Write(value), value);

    /// <summary>A document as read from its column.</summary>
    public static StoredDocument<T> FromColumn(string json) => new(json, null);

    /// <summary>A document as read from a column that may be NULL.</summary>
    public static StoredDocument<T>? FromNullableColumn(string? json) => json is null ? null : FromColumn(json);

    public override string ToString() => Json;
}
