using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>
/// The Isola API over HTTP: sends JSON, returns the answer's JSON text as the server wrote it, and turns
/// error answers and unreachable servers into <see cref="ApiCallException"/>.
/// </summary>
internal sealed class ApiClient(HttpClient http, ClientSettings settings)
{
    public async Task<string> GetAsync(string path, CancellationToken ct) => (await GetPageAsync(path, ct)).Text;

    /// <summary>A GET and the path of the page after its answer (a <c>Link: &lt;...&gt;; rel="next"</c> header), null when none follows.</summary>
    public async Task<(string Text, string? Next)> GetPageAsync(string path, CancellationToken ct) =>
        await SendAsync(http, HttpMethod.Get, path, null, ct);

    public Task<string> PostAsync(string path, JsonObject body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, ct);

    public Task<string> DeleteAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Delete, path, null, ct);

    public Task<string> PatchAsync(string path, JsonObject body, CancellationToken ct) => SendAsync(HttpMethod.Patch, path, body, ct);

    /// <summary>
    /// PUT of bytes (<c>application/octet-stream</c>, <paramref name="length"/> of them), streamed from
    /// <paramref name="bytes"/> as they are read; without the other calls' time limit: a large image takes
    /// as long as the network needs.
    /// </summary>
    public async Task<string> PutBytesAsync(string path, Stream bytes, long length, CancellationToken ct)
    {
        using var upload = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var content = new StreamContent(bytes, 1 << 20);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        return (await SendAsync(upload, HttpMethod.Put, path, content, ct)).Text;
    }

    /// <summary>A resource path with a name or id as one escaped segment: <c>/v1/networks/lan</c>.</summary>
    public static string PathOf(string collection, string nameOrId) => $"/v1/{collection}/{Uri.EscapeDataString(nameOrId)}";

    private async Task<string> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct) =>
        (await SendAsync(http, method, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct)).Text;

    private async Task<(string Text, string? Next)> SendAsync(HttpClient client, HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(settings.Url, path));
        if (settings.Token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.Token);
        request.Content = content;
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(e.InnerException is SocketException s ? s.Message : e.Message);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Unreachable($"no answer within {client.Timeout.TotalSeconds:0} s");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
                return (text, NextLink.Of(response.Headers));
            var error = ApiCallException.FromAnswer((int)response.StatusCode, text);
            return (int)response.StatusCode == 401 && settings.Token is null
                ? throw new ApiCallException(error.ExitCode, error.Message + "; give --token, ISOLA_TOKEN or a config file", error.Field, error.Code)
                : throw error;
        }
    }

    private ApiCallException Unreachable(string why) => new(ExitCodes.Unavailable,
        $"cannot reach the Isola API at {settings.Url} (from {settings.UrlSource}): {why}");
}

/// <summary>Request bodies: only the fields that were given, so the server's defaults apply to the rest.</summary>
internal static class JsonBody
{
    public static JsonObject With(this JsonObject body, string name, JsonNode? value)
    {
        if (value is not null)
            body[name] = value;
        return body;
    }
}
