using System.Net;
using System.Net.Sockets;
using Isola.Host.Commands;
using Npgsql;

namespace Isola.Tests.Store;

/// <summary>
/// A private PostgreSQL 15 for the test run: initdb in a temp directory, listening on 127.0.0.1 on a
/// free port, stopped and removed at the end. As root, the server runs as the postgres user
/// (initdb refuses root). ISOLA_TEST_PG=&lt;connection string&gt; uses an existing server instead.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly ProcessCommandRunner Run = new(TimeSpan.FromSeconds(120));
    private string? _dir;
    private int _databases;

    public string AdminConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("ISOLA_TEST_PG") is { Length: > 0 } given)
        {
            AdminConnectionString = given;
            return;
        }
        _dir = Path.Join(Path.GetTempPath(), "isola-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        var port = FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
            await Must(["chown", "postgres:postgres", _dir]);
        var bin = Directory.Exists("/usr/lib/postgresql/15/bin") ? "/usr/lib/postgresql/15/bin/" : "";
        string[] AsOwner(params string[] argv) => asRoot ? ["runuser", "-u", "postgres", "--", .. argv] : argv;
        await Must(AsOwner($"{bin}initdb", "-D", Path.Join(_dir, "data"), "-U", "isola", "--auth=trust", "-E", "UTF8", "--no-sync"));
        await Must(AsOwner($"{bin}pg_ctl", "-D", Path.Join(_dir, "data"), "-l", Path.Join(_dir, "log"), "-w", "-o",
            $"-c listen_addresses=127.0.0.1 -p {port} -k {_dir} -c fsync=off -c max_connections=400", "start"));
        AdminConnectionString = $"Host=127.0.0.1;Port={port};Username=isola;Database=postgres;Pooling=true";
    }

    /// <summary>A fresh, empty database of its own for one test.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"isola_test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}";
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        // Each test's database has its own pool; idle connections of finished tests are closed within seconds, not kept for minutes.
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, ConnectionIdleLifetime = 2, ConnectionPruningInterval = 1 }.ToString();
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_dir is null)
            return;
        var asRoot = Environment.UserName == "root";
        var bin = Directory.Exists("/usr/lib/postgresql/15/bin") ? "/usr/lib/postgresql/15/bin/" : "";
        string[] stop = [$"{bin}pg_ctl", "-D", Path.Join(_dir, "data"), "-m", "immediate", "-w", "stop"];
        await Run.RunAsync(asRoot ? ["runuser", "-u", "postgres", "--", .. stop] : stop);
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task Must(IReadOnlyList<string> argv)
    {
        var r = await Run.RunAsync(argv);
        if (!r.Succeeded)
            throw new InvalidOperationException(r.Describe(argv) + "\n" + r.StandardOutput);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
