namespace Isola.Lab;

/// <summary>
/// An installed kernel's modules as <c>modules.dep</c> lists them: the files a set of modules needs,
/// each after the modules it depends on, in the order <c>insmod</c> must load them.
/// </summary>
public static class KernelModules
{
    /// <summary>The module files (relative to the kernel's module directory) for <paramref name="names"/> and their dependencies, dependencies first.</summary>
    public static IReadOnlyList<string> Resolve(InstalledKernel kernel, IEnumerable<string> names) =>
        Resolve(File.ReadAllLines(Path.Join(kernel.Modules, "modules.dep")), names);

    /// <summary>The same, from the lines of a <c>modules.dep</c> ("kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko").</summary>
    public static IReadOnlyList<string> Resolve(IEnumerable<string> modulesDep, IEnumerable<string> names)
    {
        var deps = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in modulesDep)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var file = line[..colon];
            deps[file] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            byName.TryAdd(Name(file), file);
        }
        var order = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string file)
        {
            if (!seen.Add(file))
                return;
            foreach (var dep in deps.GetValueOrDefault(file) ?? [])
                Visit(dep);
            order.Add(file);
        }
        foreach (var name in names)
            Visit(byName.GetValueOrDefault(name.Replace('-', '_')) ?? throw new LabException($"the kernel has no module {name} (modules.dep does not list it)"));
        return order;
    }

    /// <summary>A module's name from its file: kernel/drivers/net/virtio_net.ko(.xz) → virtio_net (dashes as underscores, as the kernel names them).</summary>
    public static string Name(string file)
    {
        var name = Path.GetFileName(file);
        var ko = name.IndexOf(".ko", StringComparison.Ordinal);
        return (ko > 0 ? name[..ko] : name).Replace('-', '_');
    }
}
