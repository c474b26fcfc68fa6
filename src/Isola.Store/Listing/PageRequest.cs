namespace Isola.Store.Listing;

/// <summary>
/// Which page of a list to read (OpenStack's <c>limit</c> and <c>marker</c>): at most <see cref="Limit"/>
/// items (null: all the rest) after the item whose key (its id; a host's name) is <see cref="Marker"/>
/// (null: from the first). Items are in one stable order, so consecutive pages never repeat an item.
/// </summary>
public sealed record PageRequest(int? Limit = null, string? Marker = null)
{
    /// <summary>The largest page one request may ask for.</summary>
    public const int MaxLimit = 1000;

    /// <summary>Every item, from the first.</summary>
    public static PageRequest All { get; } = new();
}

/// <summary>One page of a list, and the marker of the page after it (null: this is the last page).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>A marker that names no item the caller sees: the page it asks for has no beginning.</summary>
public sealed class UnknownMarkerException(string kind, string marker, string keyName = "id")
    : Exception($"no {kind} '{marker}' to page after: a marker is the {keyName} of the last {kind} of the previous page (one this token sees)")
{
    public string Marker { get; } = marker;
}
