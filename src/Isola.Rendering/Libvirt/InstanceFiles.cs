using Isola.Domain.Topology;

namespace Isola.Rendering.Libvirt;

/// <summary>
/// A server's files on its host, in its own directory under the host's instances directory: the root
/// disk (a qcow2 overlay of its image), the config drive, the serial console's log. The domain XML
/// points at them, the agent makes and removes them: one place says where they are.
/// </summary>
public sealed record InstanceFiles(string Directory, string Disk, string ConfigDrive, string ConsoleLog)
{
    public static InstanceFiles Of(HostVirtualization virt, string domain)
    {
        var dir = $"{virt.InstancesDirectory.TrimEnd('/')}/{domain}";
        return new InstanceFiles(dir, $"{dir}/disk.qcow2", $"{dir}/config.iso", $"{dir}/console.log");
    }
}
