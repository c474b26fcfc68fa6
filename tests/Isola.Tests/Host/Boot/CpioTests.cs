using System.Text;
using Isola.Host.Boot;
using Isola.Host.Commands;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Boot;

/// <summary>The initramfs writer, read back by a real cpio (busybox's, the one the lab boots with).</summary>
public sealed class CpioTests
{
    [SkippableFact]
    public async Task An_archive_lists_and_extracts_with_a_real_cpio()
    {
        Skip.IfNot(File.Exists(KvmProbe.Busybox), $"{KvmProbe.Busybox} is missing (Debian: busybox-static)");
        using var dir = new TempDir();
        var archive = Path.Join(dir.Path, "a.cpio");
        await File.WriteAllBytesAsync(archive, Cpio.Write([
            CpioEntry.Dir("bin"), CpioEntry.File("bin/hello", Encoding.ASCII.GetBytes("#!/bin/sh\necho hi\n"), executable: true),
            CpioEntry.File("odd-length.txt", Encoding.ASCII.GetBytes("abcde")), CpioEntry.Device("dev/console", 5, 1),
        ]));
        var run = new ProcessCommandRunner();

        var listed = await run.RunAsync(["sh", "-c", $"{KvmProbe.Busybox} cpio -tv < {archive}"]);
        var extracted = await run.RunAsync(["sh", "-c", $"cd {dir.Path} && mkdir x && cd x && {KvmProbe.Busybox} cpio -id < {archive} 2>/dev/null; stat -c '%A %F %t,%T' bin/hello dev/console"]);

        Assert.Equal(0, listed.ExitCode);
        Assert.Matches(@"(?m)^drwxr-xr-x .* bin$", listed.StandardOutput);
        Assert.Matches(@"(?m)^-rwxr-xr-x .* 18 .* bin/hello$", listed.StandardOutput);
        Assert.Matches(@"(?m)^crw------- .* dev/console$", listed.StandardOutput);
        Assert.Equal("abcde", await File.ReadAllTextAsync(Path.Join(dir.Path, "x", "odd-length.txt")));
        // The device's numbers are what the kernel opens as its console (5, 1).
        Assert.Equal(["-rwxr-xr-x regular file 0,0", "crw------- character special file 5,1"], extracted.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
