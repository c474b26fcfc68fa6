using System.Diagnostics;
using Isola.Host.Commands;

namespace Isola.Tests.Support;

/// <summary>
/// The network namespaces and background processes of one test. Namespace names carry a prefix
/// unique to the run, so parallel runs and leftovers of a crashed one never collide. Disposing kills
/// the processes started here (their own PIDs only) and waits for them, then deletes the
/// namespaces, which takes their veths along; it runs whether or not the test passed.
/// </summary>
public sealed class NetworkLab : IAsyncDisposable
{
    private static readonly ProcessCommandRunner Commands = new(TimeSpan.FromSeconds(60));
    private readonly List<string> _namespaces = [];
    private readonly List<Process> _background = [];

    /// <summary>"isola-" and 6 hex digits, different on every run.</summary>
    public string Prefix { get; } = "isola-" + Guid.NewGuid().ToString("N")[..6];

    /// <summary>A new namespace <c>PREFIX-NAME</c> with lo up and IPv6 off (no router solicitations or DAD in the counters).</summary>
    public async Task<string> AddNamespaceAsync(string name)
    {
        var ns = $"{Prefix}-{name}";
        await MustAsync("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        await MustAsync("ip", "-n", ns, "link", "set", "lo", "up");
        await MustAsync("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        return ns;
    }

    /// <summary>Runs a command inside a namespace and returns what it left, whatever its exit code.</summary>
    public Task<CommandResult> ExecAsync(string ns, params string[] argv) => Commands.RunAsync(["ip", "netns", "exec", ns, .. argv]);

    /// <summary>Runs a command inside a namespace; a failure fails the test.</summary>
    public async Task<string> MustExecAsync(string ns, params string[] argv) => await MustAsync(["ip", "netns", "exec", ns, .. argv]);

    /// <summary>Runs a command in the test's own namespace (ip link/addr with -n); a failure fails the test.</summary>
    public static async Task<string> MustAsync(params string[] argv)
    {
        var result = await Commands.RunAsync(argv);
        if (!result.Succeeded)
            throw new InvalidOperationException(result.Describe(argv));
        return result.StandardOutput;
    }

    /// <summary>Starts a command inside a namespace in the background, its output collected; killed at the end if still running.</summary>
    public Background Start(string ns, params string[] argv)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] full = ["netns", "exec", ns, .. argv];
        foreach (var arg in full)
            info.ArgumentList.Add(arg);
        info.Environment["LC_ALL"] = "C";
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {string.Join(' ', argv)}");
        _background.Add(process);
        return new Background(process);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _background)
        {
            await Background.StopAsync(process);
            process.Dispose();
        }
        _background.Clear();
        foreach (var ns in _namespaces.AsEnumerable().Reverse())
            await Commands.RunAsync(["ip", "netns", "del", ns]);
        _namespaces.Clear();
    }

    /// <summary>A process started by <see cref="Start"/>: its output once it has ended.</summary>
    public sealed class Background
    {
        private readonly Process _process;
        private readonly Task<string> _stdout;
        private readonly Task<string> _stderr;

        internal Background(Process process)
        {
            _process = process;
            _stdout = process.StandardOutput.ReadToEndAsync();
            _stderr = process.StandardError.ReadToEndAsync();
        }

        /// <summary>Waits for the process to end by itself (killed after <paramref name="limit"/>); its output.</summary>
        public async Task<(bool Exited, string Stdout, string Stderr)> WaitAsync(TimeSpan limit)
        {
            using var timeout = new CancellationTokenSource(limit);
            var exited = true;
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                exited = false;
                await StopAsync(_process);
            }
            return (exited, await _stdout, await _stderr);
        }

        /// <summary>SIGKILL to this one process (ip netns exec replaced itself with the command, so it is the command) and a wait for it.</summary>
        internal static async Task StopAsync(Process process)
        {
            try
            {
                if (!process.HasExited)
                    process.Kill();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                // Already gone and reaped, or (SIGKILL not taking effect in 10 s) left to the system.
            }
        }
    }
}
