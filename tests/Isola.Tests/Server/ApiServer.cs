using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Server;
using Isola.Server.Settings;
using Isola.Store;
using Microsoft.AspNetCore.Builder;

namespace Isola.Tests.Server;

/// <summary>A real Isola API server on 127.0.0.1 (a free port), and clients for it.</summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly string _store;
    private readonly string? _dataDir;

    private ApiServer(WebApplication app, string store, string? dataDir, string? admin, bool madeAdmin)
    {
        App = app;
        _store = store;
        _dataDir = dataDir;
        AdminSecret = admin;
        MadeAdminToken = madeAdmin;
        Url = app.Urls.First();
    }

    /// <summary>Whether this start made the admin token (only the first start on a store does).</summary>
    public bool MadeAdminToken { get; }

    public WebApplication App { get; }

    public string? AdminSecret { get; }

    public string Url { get; }

    /// <param name="configure">Changes to the test's settings (e.g. a small MaxImageBytes).</param>
    public static async Task<ApiServer> StartAsync(string store, string? adminSecret = null, TimeProvider? time = null, int buildTimeoutSeconds = 300,
        Func<ServerSettings, ServerSettings>? configure = null)
    {
        var settings = new ServerSettings(store, "http://127.0.0.1:0", VlanRanges: ["physnet2:100:102"], VniRanges: ["5000:5999"], Physnets: ["physnet3"],
            BuildTimeoutSeconds: buildTimeoutSeconds);
        // A PostgreSQL store has no directory: the server's files (images) go to one of the test's, removed with the server.
        string? dataDir = null;
        if (StoreConnectionFactory.Parse(store).Engine == StoreEngine.Postgres)
            settings = settings with { DataDir = dataDir = Path.Join(Path.GetTempPath(), "isola-test-data-" + Guid.NewGuid().ToString("N")[..12]) };
        settings = configure?.Invoke(settings) ?? settings;
        var started = await IsolaServer.StartAsync(settings, time);
        return new ApiServer(started.App, store, dataDir, started.InitialAdminSecret ?? adminSecret, started.InitialAdminSecret is not null) { Settings = settings };
    }

    /// <summary>The settings the server runs with.</summary>
    public ServerSettings Settings { get; private init; } = new();

    public HttpClient Client(string? token)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url) };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// Stops the server and its background services (build timeouts, agent watch), and closes the
    /// store's idle pooled connections: none of them outlives its test's store (a PostgreSQL test
    /// database's pool would otherwise hold its connections until the server refuses new clients).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync(); // ends long polls (ApplicationStopping) before the services go
        await App.DisposeAsync();
        var factory = StoreConnectionFactory.Parse(_store);
        if (factory.Engine == StoreEngine.Postgres)
        {
            await using var connection = new Npgsql.NpgsqlConnection(factory.ConnectionString);
            Npgsql.NpgsqlConnection.ClearPool(connection);
        }
        else
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(factory.ConnectionString);
            Microsoft.Data.Sqlite.SqliteConnection.ClearPool(connection);
        }
        if (_dataDir is not null && Directory.Exists(_dataDir))
            Directory.Delete(_dataDir, recursive: true);
    }
}

internal static class Http
{
    public static async Task<(int Status, JsonElement Body)> Send(this HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string text)
            request.Content = new StringContent(text, System.Text.Encoding.UTF8, "application/json");
        else if (body is not null)
            request.Content = JsonContent.Create(body, options: IsolaJson.Options);
        using var response = await client.SendAsync(request);
        var content = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, content.Length == 0 ? default : JsonDocument.Parse(content).RootElement.Clone());
    }

    public static Task<(int Status, JsonElement Body)> Post(this HttpClient c, string path, object body) => c.Send(HttpMethod.Post, path, body);

    public static Task<(int Status, JsonElement Body)> Get(this HttpClient c, string path) => c.Send(HttpMethod.Get, path);

    public static Task<(int Status, JsonElement Body)> Delete(this HttpClient c, string path) => c.Send(HttpMethod.Delete, path);

    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;

    public static string ErrorField(this JsonElement e) => e.GetProperty("error").GetProperty("field").GetString() ?? "";

    public static string ErrorCode(this JsonElement e) => e.GetProperty("error").GetProperty("code").GetString()!;
}
