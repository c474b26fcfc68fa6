using System.Diagnostics;
using System.Text;

namespace Isola.Host.Boot;

/// <summary>
/// Whether a KVM guest boots on this machine, found by trying: a tiny guest (the machine's kernel and
/// an initramfs of busybox that says so on its serial console and powers off) under
/// <c>accel=kvm</c>, given 30 s. <c>/dev/kvm</c> alone is no proof: on some machines (nested
/// virtualisation) a KVM guest hangs in early boot. Answered once per process.
/// </summary>
public static class KvmProbe
{
    public const string Busybox = "/bin/busybox";

    public const string Qemu = "qemu-system-x86_64";

    private static readonly SemaphoreSlim Once = new(1, 1);
    private static bool? _answer;
    private static bool _asked;

    /// <summary>The newest kernel image under /boot, or null.</summary>
    public static string? Kernel() =>
        Directory.Exists("/boot") ? Directory.GetFiles("/boot", "vmlinuz-*").OrderByDescending(f => f, StringComparer.Ordinal).FirstOrDefault() : null;

    /// <summary>
    /// True when a KVM guest reached its init here; false when it hung or QEMU could not run it under
    /// KVM; null when it could not be tried (no /dev/kvm, kernel, busybox or QEMU to try with): then
    /// nothing is known either way, and the caller decides (the agent keeps kvm and warns).
    /// </summary>
    public static async Task<bool?> KvmBootsAsync(string? kernel = null, CancellationToken ct = default)
    {
        await Once.WaitAsync(ct);
        try
        {
            if (!_asked)
            {
                _answer = await TryAsync(kernel ?? Kernel(), ct);
                _asked = true;
            }
            return _answer;
        }
        finally
        {
            Once.Release();
        }
    }

    private static async Task<bool?> TryAsync(string? kernel, CancellationToken ct)
    {
        if (!File.Exists("/dev/kvm") || kernel is null || !File.Exists(Busybox))
            return null;
        var dir = Path.Join(Path.GetTempPath(), "isola-kvm-probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var initrd = Path.Join(dir, "probe.cpio");
            var console = Path.Join(dir, "console.log");
            await File.WriteAllBytesAsync(initrd, Cpio.Write([
                CpioEntry.Dir("bin"), CpioEntry.Dir("proc"), CpioEntry.Device("dev/console", 5, 1),
                CpioEntry.File("bin/busybox", await File.ReadAllBytesAsync(Busybox, ct), executable: true),
                CpioEntry.File("init", Encoding.UTF8.GetBytes("#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox echo isola-kvm-ok\n/bin/busybox echo o > /proc/sysrq-trigger\n"), executable: true),
            ]), ct);
            var info = new ProcessStartInfo(Qemu) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-nodefaults", "-no-reboot", "-display", "none", "-machine", "q35,accel=kvm", "-cpu", "max", "-m", "256M",
                         "-serial", $"file:{console}", "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 quiet" })
                info.ArgumentList.Add(arg);
            Process qemu;
            try
            {
                qemu = Process.Start(info)!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null; // no QEMU here
            }
            using (qemu)
            {
                // QEMU's output is drained whatever happens; the reads end when it exits.
                var drained = Task.WhenAll(qemu.StandardOutput.ReadToEndAsync(CancellationToken.None), qemu.StandardError.ReadToEndAsync(CancellationToken.None));
                bool Said() => File.Exists(console) && File.ReadAllText(console).Contains("isola-kvm-ok", StringComparison.Ordinal);
                var ok = false;
                try
                {
                    // A working KVM guest reaches its init in seconds; one that hangs never does.
                    var clock = Stopwatch.StartNew();
                    while (!ok && !qemu.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30))
                    {
                        await Task.Delay(100, ct);
                        ok = Said();
                    }
                    return ok || Said();
                }
                finally
                {
                    // Cancelled or not, the probe's QEMU never outlives it (a hanging KVM guest would never exit).
                    if (!qemu.HasExited)
                        qemu.Kill(entireProcessTree: true);
                    await qemu.WaitForExitAsync(CancellationToken.None);
                    await drained;
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
