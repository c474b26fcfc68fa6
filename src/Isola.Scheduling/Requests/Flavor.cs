namespace Isola.Scheduling.Requests;

/// <summary>A flavor as Nova has it: sizes plus <c>hw:</c> and <c>quota:</c> extra specs.</summary>
public sealed record Flavor(string Name, int Vcpus, long RamMiB, int DiskGiB, IReadOnlyDictionary<string, string> ExtraSpecs)
{
    public Flavor(string name, int vcpus, long ramMiB, int diskGiB) : this(name, vcpus, ramMiB, diskGiB, new Dictionary<string, string>())
    {
    }

    public Flavor With(string key, string value) =>
        this with { ExtraSpecs = new Dictionary<string, string>(ExtraSpecs) { [key] = value } };
}
