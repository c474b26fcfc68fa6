namespace Isola.Tests.Support;

/// <summary>
/// Writes a literal file tree: files with exact content and symlinks with exact (relative) targets,
/// as a test spells them out from a real host's layout.
/// </summary>
public sealed class TreeBuilder(string root)
{
    public string Root { get; } = root;

    public TreeBuilder File(string path, string content)
    {
        var full = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, content);
        return this;
    }

    public TreeBuilder Dir(string path)
    {
        Directory.CreateDirectory(Path.Join(Root, path));
        return this;
    }

    public TreeBuilder Link(string path, string target)
    {
        var full = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        System.IO.File.CreateSymbolicLink(full, target);
        return this;
    }

    public TreeBuilder Remove(string path)
    {
        var full = Path.Join(Root, path);
        if (new FileInfo(full).LinkTarget is not null || System.IO.File.Exists(full))
            System.IO.File.Delete(full);
        else if (Directory.Exists(full))
            Directory.Delete(full, recursive: true);
        return this;
    }
}
