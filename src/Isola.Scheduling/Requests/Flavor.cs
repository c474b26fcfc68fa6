namespace Isola.Scheduling.Requests;

/// <summary>A flavor as Nova has it: sizes plus <c>hw:</c> and <c>quota:</c> extra specs.</summary>
public sealed record Flavor(string Name, int Vcpus, long RamMiB, int DiskGiB, IReadOnlyDictionary<string, string> ExtraSpecs)
{
    /// <summary>A flavor without extra specs. (One constructor only, so JSON can read flavors back.)</summary>
    public static Flavor Of(string name, int vcpus, long ramMiB, int diskGiB) => new(name, vcpus, ramMiB, diskGiB, new Dictionary<string, string>());

    public Flavor With(string key, string value) =>
        this with { ExtraSpecs = new Dictionary<string, string>(ExtraSpecs) { [key] = value } };
}
