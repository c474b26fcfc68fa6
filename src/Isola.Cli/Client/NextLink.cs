using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace Isola.Cli.Client;

/// <summary>The <c>rel="next"</c> target of an answer's <c>Link</c> header (RFC 8288), as the API writes it: <c>&lt;/v1/servers?limit=2&amp;marker=ID&gt;; rel="next"</c>.</summary>
internal static partial class NextLink
{
    public static string? Of(HttpResponseHeaders headers)
    {
        if (!headers.TryGetValues("Link", out var values))
            return null;
        foreach (var value in values)
            foreach (Match link in Link().Matches(value))
                if (link.Groups["rel"].Value.Split(' ').Contains("next", StringComparer.OrdinalIgnoreCase))
                    return link.Groups["target"].Value;
        return null;
    }

    [GeneratedRegex("""<(?<target>[^>]*)>\s*;\s*rel="?(?<rel>[^";,]*)"?""")]
    private static partial Regex Link();
}
