using System.Text;

namespace Isola.Rendering.Guest;

/// <summary>
/// What a server's NoCloud config drive holds (the ISO 9660 volume labelled <c>cidata</c> that
/// cloud-init reads): <c>meta-data</c> (the instance id, the hostname, the SSH keys), <c>user-data</c>
/// (what the user gave, as given; empty when nothing) and <c>network-config</c> (version 2, from the
/// host plan). With NICs whose interrupts the plan steers, also the guest's end of that steering
/// (<see cref="GuestIrqScript"/>): its map, the script, and a <c>vendor-data</c> that has cloud-init
/// run the script at every boot. The agent writes these files into an image beside the server's disk.
/// </summary>
/// <param name="IrqAffinity">The map of <see cref="GuestIrqScript.MapFile"/>; empty: none (and no script, no vendor-data).</param>
public sealed record ConfigDrive(string MetaData, string UserData, string NetworkConfig, string IrqAffinity = "")
{
    /// <summary>The volume label NoCloud looks for.</summary>
    public const string VolumeLabel = "cidata";

    /// <summary>The files, by their names on the volume.</summary>
    public IReadOnlyList<(string Name, string Content)> Files =>
        IrqAffinity.Length == 0
            ? [("meta-data", MetaData), ("user-data", UserData), ("network-config", NetworkConfig)]
            : [("meta-data", MetaData), ("user-data", UserData), ("network-config", NetworkConfig), ("vendor-data", GuestIrqScript.VendorData),
                (GuestIrqScript.MapFile, IrqAffinity), (GuestIrqScript.ScriptFile, GuestIrqScript.Script)];

    /// <summary>The drive of a server: its id is the instance id (a new id, a new instance for cloud-init).</summary>
    public static ConfigDrive For(string instanceId, string serverName, IReadOnlyList<string> sshKeys, string? userData, string networkConfig,
        IReadOnlyList<Isolation.GuestIrqMap>? irqs = null)
    {
        var meta = new StringBuilder();
        meta.Append("instance-id: ").Append(YamlScalar.Quoted(instanceId)).Append('\n');
        meta.Append("local-hostname: ").Append(YamlScalar.Quoted(Hostname(serverName))).Append('\n');
        if (sshKeys.Count > 0)
        {
            meta.Append("public-keys:\n");
            foreach (var key in sshKeys)
                meta.Append("  - ").Append(YamlScalar.Quoted(key)).Append('\n');
        }
        return new ConfigDrive(meta.ToString(), userData ?? "", networkConfig, GuestIrqScript.Map(irqs ?? []));
    }

    /// <summary>
    /// A server name as a hostname, as Nova makes one: lower case, every character that is not a
    /// letter, digit or dash a dash, no dash at either end, at most 63 characters; "server" when nothing is left.
    /// </summary>
    public static string Hostname(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name.ToLowerInvariant())
            sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        var host = sb.ToString().Trim('-');
        if (host.Length > 63)
            host = host[..63].TrimEnd('-');
        return host.Length == 0 ? "server" : host;
    }
}
