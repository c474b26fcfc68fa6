using System.Globalization;
using Isola.Domain.Topology;

namespace Isola.Host.Discovery;

/// <summary>
/// Reads a host's sysfs and procfs under a root directory ("/" on a real host, a generated tree in
/// tests and simulations). Every read that fails becomes a warning in <see cref="Warnings"/>; none throws.
/// Paths are given the way the kernel documents them ("sys/bus/pci/devices"), relative to the root.
/// </summary>
public sealed class HostRoot(string path)
{
    private readonly List<DiscoveryWarning> _warnings = [];

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public IReadOnlyList<DiscoveryWarning> Warnings => _warnings;

    public void Warn(string subject, string code, string message) => _warnings.Add(new DiscoveryWarning(subject, code, message));

    public string Resolve(string relative) => System.IO.Path.Join(Path, relative.TrimStart('/'));

    public bool Exists(string relative) => File.Exists(Resolve(relative)) || Directory.Exists(Resolve(relative));

    public bool DirectoryExists(string relative) => Directory.Exists(Resolve(relative));

    /// <summary>Names in a directory (symlinks included), sorted; empty when it does not exist.</summary>
    public IReadOnlyList<string> List(string relative)
    {
        var dir = Resolve(relative);
        if (!Directory.Exists(dir))
            return [];
        try
        {
            return Directory.EnumerateFileSystemEntries(dir).Select(System.IO.Path.GetFileName).OfType<string>()
                .Order(StringComparer.Ordinal).ToList();
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The trimmed content of a file, or null (with a warning unless <paramref name="optional"/>).</summary>
    public string? ReadText(string relative, string subject, bool optional = false)
    {
        var file = Resolve(relative);
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!optional)
            {
                var dangling = IsDanglingLink(relative);
                Warn(subject, dangling ? WarningCodes.DanglingLink : WarningCodes.MissingFile,
                    dangling ? $"{relative} is a link to nothing" : $"cannot read {relative}: {ShortReason(e)}");
            }
            return null;
        }
    }

    public int? ReadInt(string relative, string subject, bool optional = false)
    {
        var text = ReadText(relative, subject, optional);
        if (text is null)
            return null;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return value;
        Warn(subject, WarningCodes.Malformed, $"{relative} holds '{Clip(text)}', not an integer");
        return null;
    }

    /// <summary>Reads "0x8086" (vendor, device, class) or "10ed" (sriov_vf_device) as hex.</summary>
    public int? ReadHex(string relative, string subject, bool optional = false)
    {
        var text = ReadText(relative, subject, optional);
        if (text is null)
            return null;
        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if (digits.Length is > 0 and <= 8 && int.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            return value;
        Warn(subject, WarningCodes.Malformed, $"{relative} holds '{Clip(text)}', not a hex number");
        return null;
    }

    /// <summary>The last path element of a symlink's target ("ixgbe" for driver -> ../../bus/pci/drivers/ixgbe); null when not a link.</summary>
    public string? LinkTargetName(string relative)
    {
        var info = new FileInfo(Resolve(relative));
        var target = info.LinkTarget;
        return target is null ? null : System.IO.Path.GetFileName(target.TrimEnd('/'));
    }

    /// <summary>
    /// True for a symlink whose target does not exist. The kernel resolves the link (a relative
    /// target counts from the link's real directory, not from the path it was reached by); File.Exists
    /// cannot tell, as .NET falls back to lstat and calls a dangling link a file.
    /// </summary>
    public bool IsDanglingLink(string relative)
    {
        var full = Resolve(relative);
        if (new FileInfo(full).LinkTarget is null || Directory.Exists(full))
            return false;
        try
        {
            using var handle = File.OpenHandle(full);
            return false;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return true;
        }
        catch (IOException)
        {
            // ELOOP: a link loop resolves to nothing either.
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string ShortReason(Exception e) => e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message;

    internal static string Clip(string text) => text.Length > 40 ? text[..40] + "..." : text;
}
