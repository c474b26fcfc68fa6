using System.Runtime.CompilerServices;
using Isola.Rendering;

namespace Isola.Tests.Rendering;

/// <summary>
/// The rendered files of every case are compared with the reviewed copies in Golden/&lt;case&gt;/.
/// To accept a deliberate change: ISOLA_UPDATE_GOLDEN=1 dotnet test --filter GoldenTests, then review the diff.
/// </summary>
public class GoldenTests
{
    public static TheoryData<string> Cases() => new(RenderCases.Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rendered_files_match_the_reviewed_copies(string name)
    {
        var plan = HostPlanner.Render(RenderCases.Input(name));
        Compare(name, "domain.xml", plan.DomainXml);
        Compare(name, "network-config.yaml", plan.NetworkConfig);
        Compare(name, "vf-commands.txt", string.Join('\n', plan.VfCommands.Select(a => string.Join(' ', a))) + "\n");
        Compare(name, "meta-data", plan.ConfigDrive!.MetaData);
        Compare(name, "disk.txt", $"{plan.Disk!.Path} {plan.Disk.SizeGiB} GiB image {plan.Disk.Image?.Id ?? "none"}\n");
    }

    private static void Compare(string name, string file, string actual, [CallerFilePath] string source = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(source)!, "Golden", name, file);
        if (Environment.GetEnvironmentVariable("ISOLA_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"{path} is missing: run with ISOLA_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
