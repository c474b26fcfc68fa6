using System.Diagnostics;
using System.Globalization;
using Isola.Host.Hardware;
using Isola.Coordination;
using Isola.Scheduling.Requests;
using Isola.Store;

namespace Isola.Bench;

/// <summary>
/// The placement-and-commit section of a server create without HTTP: StorePlacer.PlaceAsync on a
/// fresh SQLite store, to split an API create's time between the placer and the request around it.
/// Usage: store [--hosts 100] [--servers 1000]
/// </summary>
internal static class StoreBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var hosts = BenchArgs.Int(args, "--hosts", 100);
        var servers = BenchArgs.Int(args, "--servers", 1000);
        var dir = Path.Join(Path.GetTempPath(), "isola-storebench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var store = new PlacementStore(StoreConnectionFactory.Sqlite(Path.Join(dir, "isola.db")), TimeProvider.System);
            await store.MigrateAsync();
            var template = ProfileExpander.Expand(ProfileCatalog.Get("x710-2s"));
            for (var i = 0; i < hosts; i++)
                await store.UpsertHostAsync(template with { Hostname = $"host-{i:D5}" });
            var placer = await StorePlacer.LoadAsync(store);
            var flavor = Flavor.Of("f", 2, 2048, 10).With(ExtraSpecs.CpuPolicyKey, "dedicated").With(ExtraSpecs.MemPageSizeKey, "1GB")
                .With(ExtraSpecs.PciNumaAffinityPolicyKey, "required");
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < servers; i++)
            {
                var request = PlacementRequest.Create($"vm{i}", flavor, [new PortRequest("p", VnicType.Direct, "physnet2", false, $"fa:16:3e:00:{i / 256 % 256:x2}:{i % 256:x2}")]);
                if ((await placer.PlaceAsync(Guid.NewGuid().ToString(), "p", request)).Placement is null)
                    throw new InvalidOperationException($"vm{i} was not placed");
            }
            clock.Stop();
            Console.WriteLine(FormattableString.Invariant($"| StorePlacer.PlaceAsync, SQLite | {hosts} | {servers} | {servers / clock.Elapsed.TotalSeconds:0}/s | {clock.Elapsed.TotalMilliseconds / servers:0.00} ms each |"));
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }
}
