using System.Text;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Http;

namespace Isola.Server.Api;

/// <summary>
/// A list's answer: the page's items as a bare JSON array (the shape lists always had), and, when a page
/// follows, <c>Link: &lt;/v1/...?limit=N&amp;marker=LAST&gt;; rel="next"</c> (RFC 8288) — this request's path and
/// query with the marker moved to the page's last item.
/// </summary>
internal static class ListAnswer
{
    public static IResult Of<T>(HttpContext http, Page<T> page, IEnumerable<object> items) => Of(http, page.Next, items);

    /// <param name="next">The marker of the page after this one; null when this is the last.</param>
    public static IResult Of(HttpContext http, string? next, IEnumerable<object> items)
    {
        if (next is not null)
            http.Response.Headers.Link = $"<{NextUrl(http.Request, next)}>; rel=\"next\"";
        return Results.Ok(items);
    }

    /// <summary>The same request with <c>marker</c> set to <paramref name="next"/>, as a path and query.</summary>
    public static string NextUrl(HttpRequest request, string next)
    {
        var url = new StringBuilder(request.PathBase + request.Path);
        var separator = '?';
        foreach (var (name, values) in request.Query.Where(q => q.Key != "marker").Append(new("marker", next)))
            foreach (var value in values)
            {
                url.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value ?? ""));
                separator = '&';
            }
        return url.ToString();
    }
}
