using System.Globalization;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Api;

/// <summary>A query parameter a list filters on: free text, or one of <see cref="Allowed"/> (matched without case, answered as listed).</summary>
internal sealed record ListFilter(string Name, IReadOnlyList<string>? Allowed = null)
{
    public static ListFilter Text(string name) => new(name);

    public static ListFilter OneOf(string name, IReadOnlyList<string> allowed) => new(name, allowed);

    public static ListFilter Bool(string name) => new(name, ["true", "false"]);
}

/// <summary>
/// A list request's query, checked whole before the list is read: <c>limit</c> (1-<see cref="PageRequest.MaxLimit"/>),
/// <c>marker</c> and the list's own filters, each at most once and not empty. Anything else is a 400 naming
/// every parameter at fault, as a body's unknown field is: a misspelt filter is not silently ignored.
/// </summary>
internal sealed class ListQuery
{
    private readonly Dictionary<string, string> _values;

    private ListQuery(PageRequest page, Dictionary<string, string> values)
    {
        Page = page;
        _values = values;
    }

    public PageRequest Page { get; }

    /// <summary>A filter's value (canonical for one of a set); null when not given.</summary>
    public string? this[string name] => _values.GetValueOrDefault(name);

    /// <summary>A <see cref="ListFilter.Bool"/> filter's value.</summary>
    public bool? Bool(string name) => this[name] is { } v ? v == "true" : null;

    public static ListQuery Read(HttpContext http, params ListFilter[] filters)
    {
        var errors = new List<FieldError>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var known = filters.ToDictionary(f => f.Name, StringComparer.Ordinal);
        int? limit = null;
        string? marker = null;
        foreach (var (name, given) in http.Request.Query)
        {
            if (name != "limit" && name != "marker" && !known.ContainsKey(name))
            {
                errors.Add(new(name, $"is not a parameter of this list; there are {string.Join(", ", ["limit", "marker", .. known.Keys])}"));
                continue;
            }
            if (given.Count != 1 || string.IsNullOrEmpty(given[0]))
            {
                errors.Add(new(name, given.Count > 1 ? "is given once" : "is empty: give a value or leave the parameter out"));
                continue;
            }
            var value = given[0]!;
            if (name == "limit")
            {
                if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= PageRequest.MaxLimit)
                    limit = n;
                else
                    errors.Add(new("limit", $"'{Clip(value)}' is not a page size: a whole number 1-{PageRequest.MaxLimit}"));
            }
            else if (name == "marker")
                marker = value;
            else if (known[name].Allowed is { } allowed)
            {
                if (allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase)) is { } canonical)
                    values[name] = canonical;
                else
                    errors.Add(new(name, $"'{Clip(value)}' is not one of {string.Join(", ", allowed)}"));
            }
            else
                values[name] = value;
        }
        if (errors.Count > 0)
            throw ApiException.Invalid(errors);
        return new ListQuery(new PageRequest(limit, marker), values);
    }

    private static string Clip(string value) => value.Length <= 1024 ? value : value[..1024] + "…";
}
