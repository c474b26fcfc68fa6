using System.Text.Json;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Vm;

/// <summary>
/// What a real-VM test through the API needs: its own API server (SQLite in a temp directory), an admin client, and the
/// waits every such test does — a server at rest in a status, a line on a guest's serial console so many times.
/// </summary>
/// <param name="withOvs">Also the host's Open vSwitch at its default run directory (where libvirt plugs taps), for tests with virtio ports.</param>
/// <param name="unavailable">Why the test will skip (its fixture's word): then no switch is started.</param>
public abstract class RealVmApiTest(bool withOvs = false, string? unavailable = null) : IAsyncLifetime
{
    private bool _ovsStarted;

    protected TempDir Dir { get; } = new();

    protected ApiServer Server { get; private set; } = null!;

    protected HttpClient Admin { get; private set; } = null!;

    /// <summary>The host's switch (with <c>withOvs</c>).</summary>
    protected OvsSwitch Ovs { get; } = OvsSwitch.AtDefaultRunDirectory();

    /// <summary>Why there is no switch (Open vSwitch not installed); null when there is one, or none was asked for.</summary>
    protected string? OvsUnavailable { get; private set; }

    public async Task InitializeAsync()
    {
        Server = await ApiServer.StartAsync(Dir.Sub("isola.db"));
        Admin = Server.Client(Server.AdminSecret);
        if (!withOvs || unavailable is not null)
            return;
        if (!File.Exists("/usr/sbin/ovs-vswitchd"))
        {
            OvsUnavailable = "Open vSwitch is not installed (Debian: openvswitch-switch)";
            return;
        }
        await Ovs.InitializeAsync();
        _ovsStarted = true;
    }

    public async Task DisposeAsync()
    {
        if (_ovsStarted)
            await Ovs.DisposeAsync();
        await Server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Dir.Dispose();
    }

    /// <summary>Asks for a server action (<c>POST /v1/servers/{id}/action</c>); it must be begun (202).</summary>
    protected async Task ActAsync(string id, object body)
    {
        var (status, answer) = await Admin.Post($"/v1/servers/{id}/action", body);
        Assert.True(status == 202, answer.ToString());
    }

    /// <summary>The server at <paramref name="status"/> with no task in progress (or already past it, at <paramref name="orLater"/>); never ERROR.</summary>
    protected async Task UntilAsync(string id, string status, string? orLater = null)
    {
        var server = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}")).Body, s =>
            ((s.Str("status") == status || (orLater is not null && s.Str("status") == orLater)) && s.GetProperty("taskState").ValueKind == JsonValueKind.Null)
            || s.Str("status") == "ERROR", $"server at {status}");
        Assert.True(server.Str("status") != "ERROR", server.ToString());
    }

    protected static int Count(string text, string line) => text.Split('\n').Count(l => l.Contains(line, StringComparison.Ordinal));

    /// <summary>The console once <paramref name="line"/> is on it <paramref name="times"/> times (the log keeps every boot: append).</summary>
    protected static Task ConsoleAsync(string path, string line, int times) =>
        Eventually.UntilAsync(() => File.Exists(path) && Count(File.ReadAllText(path), line) >= times, $"'{line}' {times}x on the console");
}
