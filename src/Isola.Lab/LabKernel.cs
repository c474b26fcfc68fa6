using System.Text;
using Isola.Host.Boot;

namespace Isola.Lab;

/// <summary>A kernel image and the directory of its modules.</summary>
public sealed record InstalledKernel(string Release, string Image, string Modules);

/// <summary>The machine's side of a lab: its installed kernel, the initramfs made from it, whether KVM works here.</summary>
public static class LabKernel
{
    public const string Busybox = "/bin/busybox";

    /// <summary>The newest kernel under /boot whose modules are installed (ISOLA_LAB_KERNEL names a release instead).</summary>
    public static InstalledKernel? Find()
    {
        var wanted = Environment.GetEnvironmentVariable("ISOLA_LAB_KERNEL");
        if (!Directory.Exists("/boot"))
            return null;
        return Directory.GetFiles("/boot", "vmlinuz-*")
            .Select(image => new InstalledKernel(Path.GetFileName(image)["vmlinuz-".Length..], image, Path.Join("/lib/modules", Path.GetFileName(image)["vmlinuz-".Length..])))
            .Where(k => (wanted is null || k.Release == wanted) && LabInit.BootModules.All(m => File.Exists(Path.Join(k.Modules, m))))
            .OrderByDescending(k => k.Release, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>The initramfs of a lab boot: busybox, the boot modules, <c>/init</c> and the root's init it hands over to.</summary>
    public static byte[] Initramfs(InstalledKernel kernel)
    {
        var entries = new List<CpioEntry>();
        entries.AddRange(new[] { "bin", "dev", "proc", "sys", "lower", "upper", "newroot", "modules" }.Select(CpioEntry.Dir));
        entries.Add(CpioEntry.Device("dev/console", 5, 1));
        entries.Add(CpioEntry.File("bin/busybox", File.ReadAllBytes(Busybox), executable: true));
        entries.AddRange(LabInit.BootModules.Select(m => CpioEntry.File("modules/" + Path.GetFileName(m), File.ReadAllBytes(Path.Join(kernel.Modules, m)))));
        entries.Add(CpioEntry.File("init", Encoding.UTF8.GetBytes(LabInit.Init(LabInit.BootModules)), executable: true));
        entries.Add(CpioEntry.File("isola-lab-init", Encoding.UTF8.GetBytes(LabInit.RootInit(LabInit.Drivers)), executable: true));
        return Cpio.Write(entries);
    }

    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Join(d, program)));

    /// <summary>Whether a KVM guest boots here (<see cref="KvmProbe"/>, tried with the lab's kernel); the lab runs under TCG when not.</summary>
    public static async Task<bool> KvmUsableAsync(CancellationToken ct = default) =>
        Find() is { } kernel && await KvmProbe.KvmBootsAsync(kernel.Image, ct) == true;
}
