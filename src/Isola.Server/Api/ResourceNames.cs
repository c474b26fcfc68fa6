using System.Text.RegularExpressions;

namespace Isola.Server.Api;

internal static partial class ResourceNames
{
    /// <summary>The longest description a resource takes.</summary>
    public const int MaxDescription = 255;

    /// <summary>1-64 of letters, digits, '.', '_', '-'; starting with a letter or digit.</summary>
    public static void Check(string? name, string field, List<FieldError> errors)
    {
        if (name is null || !NameRule().IsMatch(name))
            errors.Add(new FieldError(field, "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NameRule();
}
