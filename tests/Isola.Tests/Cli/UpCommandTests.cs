using System.Text;
using Isola.Cli;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

/// <summary><c>isola up</c>: the server and simulated hosts with agents, until interrupted.</summary>
public sealed class UpCommandTests
{
    /// <summary>A writer the test can read while the command writes.</summary>
    private sealed class SharedWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public override void Write(char value)
        {
            lock (_lock)
                base.Write(value);
        }

        public override void Write(string? value)
        {
            lock (_lock)
                base.Write(value);
        }

        public override void WriteLine(string? value)
        {
            lock (_lock)
                base.WriteLine(value);
        }

        public string Snapshot()
        {
            lock (_lock)
                return GetStringBuilder().ToString();
        }
    }

    [Fact]
    public async Task Up_serves_the_api_with_agents_until_interrupted()
    {
        using var dir = new TempDir();
        var output = new SharedWriter();
        using var stop = new CancellationTokenSource();
        var run = CliApp.RunAsync(["up", "--hosts", "2", "--profile", "x710-2s", "--dir", dir.Path, "--urls", "http://127.0.0.1:0"],
            new CliConsole(output, new StringWriter(), interactive: false), stop.Token);
        for (var i = 0; i < 300 && !output.Snapshot().Contains("Ctrl-C", StringComparison.Ordinal) && !run.IsCompleted; i++)
            await Task.Delay(100);
        var text = output.Snapshot();
        Assert.Contains("nfv-x710-2", text, StringComparison.Ordinal);
        var url = System.Text.RegularExpressions.Regex.Match(text, @"isola API on (http://127\.0\.0\.1:\d+)").Groups[1].Value;
        var token = System.Text.RegularExpressions.Regex.Match(text, @"admin token: (isola_\S+)").Groups[1].Value;
        Assert.Equal(token, File.ReadAllText(Path.Join(dir.Path, "admin-token")).Trim());

        using var api = new HttpClient { BaseAddress = new Uri(url) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", token);
        var (_, hosts) = await api.Get("/v1/hosts");
        Assert.Equal(2, hosts.GetArrayLength());
        Assert.Equal(200, (await api.Get("/v1/flavors/nfv.medium")).Status);
        Assert.Equal(200, (await api.Get("/v1/networks/ext")).Status);

        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);
        Assert.True(Directory.Exists(Path.Join(dir.Path, "hosts", "nfv-x710-2", "sys", "bus", "pci", "devices")));
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("up", "--hosts", "0", "--dir", dir.Path)).Exit);
    }
}
