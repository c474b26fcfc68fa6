using System.Text.Json;
using Isola.Domain.Serialization;

namespace Isola.Rendering;

/// <summary>Writes a host plan as files: what an operator reads, and what the agent applies.</summary>
public static class HostPlanWriter
{
    /// <summary>The files, relative to the plan's directory, in the order they are written.</summary>
    public static IReadOnlyList<(string Path, string Content)> Files(HostPlan plan, RenderBundle? input = null)
    {
        static string Lines(IEnumerable<IReadOnlyList<string>> commands) => string.Concat(commands.Select(a => string.Join(' ', a) + "\n"));
        var files = new List<(string, string)>
        {
            ("domain.xml", plan.DomainXml + "\n"),
            ("network-config.yaml", plan.NetworkConfig),
            ("vf-commands.txt", Lines(plan.VfCommands)),
            ("vf-reset-commands.txt", Lines(plan.VfResetCommands)),
            ("irq-plan.json", JsonSerializer.Serialize(plan.Irqs, IsolaJson.Options) + "\n"),
            ("kernel-advice.txt", string.Concat(plan.Advice.Select(a => $"{a}\n"))),
            ("host" + plan.Isolation.IrqbalanceDefaults.Path, plan.Isolation.IrqbalanceDefaults.Content),
        };
        files.AddRange(plan.Isolation.SliceDropIns.Select(f => ("host" + f.Path, f.Content)));
        files.Add(("host-plan.json", JsonSerializer.Serialize(plan, IsolaJson.Options) + "\n"));
        if (input is not null)
            files.Add(("render-input.json", input.ToJson() + "\n"));
        return files;
    }

    public static void Write(HostPlan plan, string directory, RenderBundle? input = null)
    {
        foreach (var (path, content) in Files(plan, input))
        {
            var full = Path.Join(directory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
    }
}
