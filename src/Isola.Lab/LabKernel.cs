using System.Diagnostics;
using System.Text;

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

    private static bool? _kvm;

    /// <summary>
    /// Whether a KVM guest boots here, found by trying once per process: a tiny initramfs that says so on
    /// the console and powers off. /dev/kvm alone is no proof: on some machines a KVM guest hangs in
    /// early boot, and then the lab runs under TCG.
    /// </summary>
    public static async Task<bool> KvmUsableAsync(CancellationToken ct = default)
    {
        if (_kvm is { } known)
            return known;
        if (!File.Exists("/dev/kvm") || Find() is not { } kernel)
            return (_kvm = false).Value;
        var dir = Path.Join(Path.GetTempPath(), "isola-kvm-probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var initrd = Path.Join(dir, "probe.cpio");
            var console = Path.Join(dir, "console.log");
            await File.WriteAllBytesAsync(initrd, Cpio.Write([
                CpioEntry.Dir("bin"), CpioEntry.Dir("proc"), CpioEntry.Device("dev/console", 5, 1),
                CpioEntry.File("bin/busybox", File.ReadAllBytes(Busybox), executable: true),
                CpioEntry.File("init", Encoding.UTF8.GetBytes("#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox echo isola-kvm-ok\n/bin/busybox echo o > /proc/sysrq-trigger\n"), executable: true),
            ]), ct);
            var info = new ProcessStartInfo(QemuCommand.Binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-nodefaults", "-no-reboot", "-display", "none", "-machine", "q35,accel=kvm", "-cpu", "max", "-m", "256M",
                         "-serial", $"file:{console}", "-kernel", kernel.Image, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet" })
                info.ArgumentList.Add(arg);
            using var qemu = Process.Start(info)!;
            // QEMU's output is drained whatever happens; the reads end when it exits.
            var drained = Task.WhenAll(qemu.StandardOutput.ReadToEndAsync(CancellationToken.None), qemu.StandardError.ReadToEndAsync(CancellationToken.None));
            var ok = false;
            try
            {
                // A working KVM guest reaches its init in seconds; one that hangs never does.
                var clock = Stopwatch.StartNew();
                while (!ok && !qemu.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(100, ct);
                    ok = File.Exists(console) && File.ReadAllText(console).Contains("isola-kvm-ok", StringComparison.Ordinal);
                }
                ok = ok || (File.Exists(console) && File.ReadAllText(console).Contains("isola-kvm-ok", StringComparison.Ordinal));
            }
            finally
            {
                // Cancelled or not, the probe's QEMU never outlives it (a hanging KVM guest would never exit).
                if (!qemu.HasExited)
                    qemu.Kill(entireProcessTree: true);
                await qemu.WaitForExitAsync(CancellationToken.None);
                await drained;
            }
            return (_kvm = ok).Value;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
