using System.Runtime.InteropServices;

namespace Isola.Bench;

/// <summary>The facts a reader needs to compare figures across machines.</summary>
internal static class Machine
{
    public static IEnumerable<string> Facts()
    {
        yield return $"CPU: {ProcField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString()}";
        yield return $"Logical CPUs (nproc): {Environment.ProcessorCount}";
        yield return $"MemTotal: {ProcField("/proc/meminfo", "MemTotal") ?? "unknown"}";
        yield return $".NET runtime: {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})";
        yield return $"OS: {RuntimeInformation.OSDescription}";
        yield return $"GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, latency mode {System.Runtime.GCSettings.LatencyMode}";
    }

    private static string? ProcField(string path, string key)
    {
        if (!File.Exists(path))
            return null;
        foreach (var line in File.ReadLines(path))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim() == key)
                return line[(colon + 1)..].Trim();
        }
        return null;
    }
}
