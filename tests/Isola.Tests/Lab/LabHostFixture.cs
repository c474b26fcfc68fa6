using Isola.Lab;

namespace Isola.Tests.Lab;

/// <summary>
/// One lab host per test class that uses it (two NUMA nodes, an igb PF with 4 VFs on each, the IOMMU
/// on), booted once for all its tests. Where QEMU or a kernel cannot be had at all the tests are
/// skipped with the reason; the test command installs both, so CI runs them.
/// </summary>
public class LabHostFixture : IAsyncLifetime
{
    /// <summary>The lab test classes run one after another (each boots its own lab): QEMU under TCG takes a whole core.</summary>
    public const string Collection = "lab hosts";

    /// <summary>The hardware the lab is booted with.</summary>
    protected virtual LabShape Shape => LabShape.TwoNodes;

    public LabHost? Host { get; private set; }

    /// <summary>Why there is no lab here (null: there is one).</summary>
    public string? Unavailable { get; private set; }

    /// <summary>How long the boot took, VFs enabled.</summary>
    public TimeSpan BootTime { get; private set; }

    public async Task InitializeAsync()
    {
        Unavailable = LabHost.Missing();
        if (Unavailable is not null)
            return;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Host = await LabHost.BootAsync(Shape);
        BootTime = clock.Elapsed;
    }

    public async Task DisposeAsync()
    {
        if (Host is not null)
            await Host.DisposeAsync();
    }

    /// <summary>The lab, or the test skipped with the reason there is none.</summary>
    public LabHost Require()
    {
        Skip.If(Unavailable is not null, Unavailable);
        return Host!;
    }

    /// <summary>Runs a command and fails the test with its output when it does not exit 0.</summary>
    public async Task<string> RunAsync(string script, TimeSpan? timeout = null)
    {
        var result = await Require().RunAsync(script, timeout ?? TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"lab job exited {result.ExitCode}:\n{script}\n---\n{result.Output}");
        return result.Output;
    }

    /// <summary>The isola CLI as the lab runs it: the test run's own build, seen through the host's root.</summary>
    public static string Isola => $"dotnet {Path.Join(AppContext.BaseDirectory, "isola.dll")}";
}
