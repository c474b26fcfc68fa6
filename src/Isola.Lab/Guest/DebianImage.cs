using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Isola.Lab.Guest;

/// <summary>
/// A small Debian 12 (bookworm) guest with Debian's own <c>cloud-init</c>, built from Debian packages: <c>debootstrap
/// --variant=minbase</c> of the kernel, systemd, cloud-init, ifupdown (cloud-init 22.4's first network renderer,
/// <c>eni</c>, is the one it picks when ifupdown is there), iproute2, OpenSSH's server and sudo into a directory; then a
/// disk with an MBR (syslinux's), a small FAT partition that syslinux boots (the kernel and Debian's initramfs) and an ext4
/// root partition made from the directory (<c>mkfs.ext4 -d</c>: no loop device, no mount). cloud-init reads only NoCloud.
/// Built once per set of inputs: <see cref="EnsureAsync"/> keeps the image in a cache directory under a hash of them.
/// Needs root (debootstrap) and the mirror this machine's apt uses.
/// </summary>
public static class DebianImage
{
    /// <summary>Changed with anything the build does that its other inputs do not show.</summary>
    private const string BuilderVersion = "1";

    public const string Suite = "bookworm";

    /// <summary>The root file system's label (the kernel's <c>root=</c> and fstab find it by it).</summary>
    public const string RootLabel = "isola-root";

    /// <summary>
    /// The packages beside minbase. net-tools: cloud-init's ifupdown configuration adds routes with <c>route</c>. python3-cffi-backend: debootstrap resolves no virtual package, and python3-cryptography
    /// (cloud-init's oauthlib's) depends on the ones it provides.
    /// </summary>
    public static IReadOnlyList<string> Packages { get; } =
        ["linux-image-amd64", "systemd-sysv", "cloud-init", "python3-cffi-backend", "ifupdown", "net-tools", "iproute2", "openssh-server", "sudo"];

    /// <summary>The programs the build needs, with the Debian package of each.</summary>
    public static IReadOnlyList<(string Program, string Package)> Tools { get; } =
        [("debootstrap", "debootstrap"), ("mkfs.ext4", "e2fsprogs"), ("mkfs.vfat", "dosfstools"), ("syslinux", "syslinux"), ("mcopy", "mtools"), ("qemu-img", "qemu-utils")];

    private const string SyslinuxMbr = "/usr/lib/syslinux/mbr/mbr.bin";

    /// <summary>The kernel's command line: the root by its label, the console on the serial port.</summary>
    public const string KernelArgs = "root=LABEL=" + RootLabel + " ro console=ttyS0 panic=-1";

    /// <summary>cloud-init's own settings: NoCloud only; the C.UTF-8 locale; no growing of the root partition (no growpart here) or its file system; one host key type (keys take long under TCG).</summary>
    public const string CloudConfig = """
        # Isola's test guest: the config drive (NoCloud) is the only data source.
        datasource_list: [ NoCloud ]
        growpart:
          mode: "off"
        resize_rootfs: false
        ssh_genkeytypes: [ ed25519 ]
        # A locale every Debian has (Debian's default, en_US.UTF-8, needs the locales package).
        locale: C.UTF-8
        """;

    /// <summary>Units that only cost boot time in a short-lived test guest.</summary>
    private static readonly string[] Masked =
        ["apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
         "dpkg-db-backup.timer", "systemd-tmpfiles-clean.timer", "getty@tty1.service"];

    /// <summary>Kernel module directories a virtio guest never loads (removed to keep the image small).</summary>
    private static readonly string[] UnneededModules =
        ["kernel/sound", "kernel/drivers/gpu", "kernel/drivers/media", "kernel/drivers/net/wireless", "kernel/drivers/net/ethernet", "kernel/drivers/infiniband",
         "kernel/drivers/staging", "kernel/drivers/usb", "kernel/drivers/bluetooth", "kernel/drivers/isdn", "kernel/drivers/iio", "kernel/drivers/mtd",
         "kernel/drivers/scsi/qla2xxx", "kernel/drivers/scsi/lpfc", "kernel/drivers/scsi/mpt3sas", "kernel/drivers/scsi/be2iscsi", "kernel/drivers/scsi/bfa",
         "kernel/drivers/hwmon", "kernel/drivers/edac", "kernel/drivers/video", "kernel/drivers/input/touchscreen", "kernel/drivers/input/joystick",
         "kernel/drivers/hid", "kernel/drivers/thunderbolt", "kernel/drivers/platform", "kernel/drivers/misc", "kernel/drivers/mmc", "kernel/drivers/firewire",
         "kernel/net/wireless", "kernel/net/mac80211", "kernel/net/bluetooth"];

    private const int BootMiB = 64;

    /// <summary>Why no image can be built here (null: one can).</summary>
    public static string? Missing()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            return "building the Debian guest image needs root (debootstrap)";
        var missing = Tools.Where(t => Find(t.Program) is null).Select(t => $"{t.Program} (Debian: {t.Package})").ToList();
        if (!File.Exists(SyslinuxMbr))
            missing.Add($"{SyslinuxMbr} (Debian: syslinux-common)");
        return missing.Count > 0 ? "missing " + string.Join(", ", missing) : null;
    }

    /// <summary>
    /// The Debian mirror this machine's apt uses for <see cref="Suite"/> (its <c>sources.list</c> and deb822 <c>.sources</c>
    /// files), else deb.debian.org.
    /// </summary>
    public static string Mirror(string aptDirectory = "/etc/apt")
    {
        var files = new List<string>();
        if (File.Exists(Path.Join(aptDirectory, "sources.list")))
            files.Add(Path.Join(aptDirectory, "sources.list"));
        if (Directory.Exists(Path.Join(aptDirectory, "sources.list.d")))
            files.AddRange(Directory.GetFiles(Path.Join(aptDirectory, "sources.list.d")).Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file).Select(l => l.Trim()).ToList();
            if (file.EndsWith(".sources", StringComparison.Ordinal))
            {
                // deb822 stanzas: URIs with Suites that name the suite itself (not -security, -updates, -backports).
                foreach (var stanza in string.Join('\n', lines).Split("\n\n"))
                {
                    var fields = stanza.Split('\n').Where(l => !l.StartsWith('#') && l.Contains(':', StringComparison.Ordinal))
                        .Select(l => (Key: l[..l.IndexOf(':', StringComparison.Ordinal)].Trim(), Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
                        .GroupBy(f => f.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
                    if (fields.GetValueOrDefault("Types")?.Split(' ').Contains("deb") == true
                        && fields.GetValueOrDefault("Suites")?.Split(' ').Contains(Suite) == true
                        && fields.GetValueOrDefault("URIs")?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() is { } uri)
                        return uri.TrimEnd('/');
                }
            }
            else if (file.EndsWith(".list", StringComparison.Ordinal))
            {
                // deb [options] URI SUITE COMPONENTS...
                foreach (var line in lines.Where(l => l.StartsWith("deb ", StringComparison.Ordinal)))
                {
                    var words = System.Text.RegularExpressions.Regex.Replace(line, @"\[[^\]]*\]", "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (words.Length >= 3 && words[2] == Suite)
                        return words[1].TrimEnd('/');
                }
            }
        }
        return "http://deb.debian.org/debian";
    }

    /// <summary>The hash of everything the image is built from (the builder's version, suite, mirror, packages and files).</summary>
    public static string Key(string mirror)
    {
        var inputs = string.Join('\n', [BuilderVersion, Suite, mirror, .. Packages, KernelArgs, CloudConfig, .. Masked, .. UnneededModules, BootMiB.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(inputs)))[..16];
    }

    /// <summary>
    /// The image in <paramref name="cacheDirectory"/>, built there first when no image of the same inputs is (one build at a
    /// time: a lock file); answers its path.
    /// </summary>
    public static async Task<string> EnsureAsync(string cacheDirectory, Action<string>? progress = null, CancellationToken ct = default)
    {
        var mirror = Mirror();
        var path = Path.Join(cacheDirectory, $"debian-{Suite}-cloud-init-{Key(mirror)}.qcow2");
        if (File.Exists(path))
            return path;
        Directory.CreateDirectory(cacheDirectory);
        await using var lockFile = await LockAsync(path + ".lock", ct);
        if (File.Exists(path))
            return path;
        await BuildAsync(path, mirror, progress, ct);
        // Images of other inputs are of no more use: one cached image at a time.
        foreach (var stale in Directory.GetFiles(cacheDirectory, $"debian-{Suite}-cloud-init-*.qcow2").Where(f => f != path))
            File.Delete(stale);
        return path;
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(1000, ct);
            }
        }
    }

    /// <summary>Builds the image at <paramref name="output"/> (qcow2) from <paramref name="mirror"/>.</summary>
    public static async Task BuildAsync(string output, string mirror, Action<string>? progress = null, CancellationToken ct = default)
    {
        if (Missing() is { } missing)
            throw new LabException($"the Debian guest image cannot be built here: {missing}");
        var clock = Stopwatch.StartNew();
        void Say(string what) => progress?.Invoke($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
        var dir = Path.Join("/var/tmp", "isola-debian-image-" + Guid.NewGuid().ToString("N")[..8]);
        var root = Path.Join(dir, "root");
        Directory.CreateDirectory(dir);
        try
        {
            Say($"debootstrap {Suite} from {mirror}");
            try
            {
                await RunAsync(ct, "debootstrap", "--variant=minbase", "--include=" + string.Join(',', Packages), Suite, root, mirror);
            }
            catch (LabException e) when (File.Exists(Path.Join(root, "debootstrap/debootstrap.log")))
            {
                // What failed is in its own log (a package's maintainer script, a dependency).
                var log = string.Join('\n', File.ReadLines(Path.Join(root, "debootstrap/debootstrap.log")).TakeLast(30));
                throw new LabException($"{e.Message}\ndebootstrap.log:\n{log}");
            }
            Say("debootstrap done");
            Configure(root);
            var boot = Directory.GetFiles(Path.Join(root, "boot"), "vmlinuz-*").Single();
            var initrd = Path.Join(root, "boot", "initrd.img-" + Path.GetFileName(boot)["vmlinuz-".Length..]);
            Slim(root);

            // The boot partition: FAT, syslinux in its boot sector, the kernel and Debian's initramfs beside it.
            var fat = Path.Join(dir, "boot.fat");
            await using (var file = File.Create(fat))
                file.SetLength((long)BootMiB << 20);
            await RunAsync(ct, "mkfs.vfat", "-n", "ISOLABOOT", "-h", "2048", fat);
            await RunAsync(ct, "syslinux", "--install", fat);
            await File.WriteAllTextAsync(Path.Join(dir, "syslinux.cfg"),
                $"DEFAULT debian\nPROMPT 0\nTIMEOUT 0\nLABEL debian\n  KERNEL vmlinuz\n  INITRD initrd.img\n  APPEND {KernelArgs}\n", ct);
            File.Copy(boot, Path.Join(dir, "vmlinuz"));
            File.Copy(initrd, Path.Join(dir, "initrd.img"));
            await RunAsync(ct, "mcopy", "-i", fat, Path.Join(dir, "vmlinuz"), Path.Join(dir, "initrd.img"), Path.Join(dir, "syslinux.cfg"), "::");

            // The root partition: ext4 made from the directory, with room for what the guest writes.
            var used = DirectorySize(root);
            var rootMiB = (int)(used * 13 / 10 >> 20) + 256;
            var ext4 = Path.Join(dir, "root.ext4");
            await using (var file = File.Create(ext4))
                file.SetLength((long)rootMiB << 20);
            await RunAsync(ct, "mkfs.ext4", "-q", "-L", RootLabel, "-d", root, ext4);
            Say($"file systems made: {used >> 20} MiB of files, a {rootMiB} MiB root");

            var raw = Path.Join(dir, "disk.raw");
            await WriteDiskAsync(raw, fat, ext4, ct);
            var full = Path.GetFullPath(output);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var partial = full + ".partial";
            await RunAsync(ct, "qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, partial);
            File.Move(partial, full, overwrite: true);
            Say($"image {full}: {new FileInfo(full).Length >> 20} MiB");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>What the guest needs beyond the packages: cloud-init's settings, the root in fstab, no host identity, fewer units.</summary>
    private static void Configure(string root)
    {
        File.WriteAllText(Path.Join(root, "etc/cloud/cloud.cfg.d/90-isola.cfg"), CloudConfig + "\n");
        File.WriteAllText(Path.Join(root, "etc/fstab"), $"LABEL={RootLabel} / ext4 defaults,errors=remount-ro 0 1\n");
        // The hostname comes from the meta-data; the machine id is made at first boot.
        File.WriteAllText(Path.Join(root, "etc/hostname"), "debian\n");
        File.WriteAllText(Path.Join(root, "etc/machine-id"), "");
        if (File.Exists(Path.Join(root, "var/lib/dbus/machine-id")))
            File.Delete(Path.Join(root, "var/lib/dbus/machine-id"));
        // The build machine's host keys are none of the guest's (cloud-init makes its own too).
        foreach (var key in Directory.GetFiles(Path.Join(root, "etc/ssh"), "ssh_host_*"))
            File.Delete(key);
        var system = Path.Join(root, "etc/systemd/system");
        foreach (var unit in Masked)
        {
            var link = Path.Join(system, unit);
            if (new FileInfo(link) is { Exists: true } or { LinkTarget: not null })
                File.Delete(link);
            File.CreateSymbolicLink(link, "/dev/null");
        }
    }

    /// <summary>Removes what a test guest never reads: package caches and lists, documentation, translations, modules of hardware it has not.</summary>
    private static void Slim(string root)
    {
        string[] dirs = ["var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info", "debootstrap"];
        foreach (var d in dirs)
        {
            var path = Path.Join(root, d);
            if (!Directory.Exists(path))
                continue;
            foreach (var entry in Directory.EnumerateFileSystemEntries(path))
            {
                if (Directory.Exists(entry) && new DirectoryInfo(entry).LinkTarget is null)
                    Directory.Delete(entry, recursive: true);
                else
                    File.Delete(entry);
            }
        }
        foreach (var modules in Directory.GetDirectories(Path.Join(root, "usr/lib/modules")))
            foreach (var d in UnneededModules.Select(d => Path.Join(modules, d)).Where(Directory.Exists))
                Directory.Delete(d, recursive: true);
    }

    /// <summary>The disk: syslinux's MBR with two partitions, the FAT one (active) at 1 MiB, the root right after it.</summary>
    private static async Task WriteDiskAsync(string raw, string fat, string ext4, CancellationToken ct)
    {
        const long start = 2048;
        var fatSectors = new FileInfo(fat).Length / 512;
        var rootSectors = new FileInfo(ext4).Length / 512;
        var mbr = new byte[512];
        var code = await File.ReadAllBytesAsync(SyslinuxMbr, ct);
        Array.Copy(code, mbr, Math.Min(code.Length, 440));
        Partition(mbr, 0, active: true, type: 0x0e, start, fatSectors);
        Partition(mbr, 1, active: false, type: 0x83, start + fatSectors, rootSectors);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        await using var disk = File.Create(raw);
        await disk.WriteAsync(mbr, ct);
        disk.Position = start * 512;
        foreach (var part in new[] { fat, ext4 })
        {
            await using var source = File.OpenRead(part);
            await source.CopyToAsync(disk, ct);
        }
    }

    private static void Partition(byte[] mbr, int index, bool active, byte type, long first, long sectors)
    {
        var at = 446 + (16 * index);
        mbr[at] = active ? (byte)0x80 : (byte)0;
        // CHS fields: the "use LBA" values every BIOS of this century takes.
        mbr[at + 1] = 0xfe;
        mbr[at + 2] = 0xff;
        mbr[at + 3] = 0xff;
        mbr[at + 4] = type;
        mbr[at + 5] = 0xfe;
        mbr[at + 6] = 0xff;
        mbr[at + 7] = 0xff;
        BitConverter.TryWriteBytes(mbr.AsSpan(at + 8, 4), (uint)first);
        BitConverter.TryWriteBytes(mbr.AsSpan(at + 12, 4), (uint)sectors);
    }

    private static long DirectorySize(string root) =>
        new DirectoryInfo(root).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true })
            .Where(f => f.LinkTarget is null).Sum(f => f.Length);

    private static string? Find(string program) =>
        new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(d => Path.Join(d, program)).FirstOrDefault(File.Exists);

    private static async Task RunAsync(CancellationToken ct, string program, params string[] args)
    {
        var info = new ProcessStartInfo(Find(program) ?? program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        // debootstrap runs maintainer scripts: a plain PATH and no questions.
        info.Environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            var tail = string.Join('\n', ((await stderr).Trim() + "\n" + (await stdout).Trim()).Split('\n').TakeLast(30));
            throw new LabException($"`{program} {string.Join(' ', args)}` exited {process.ExitCode}: {tail}");
        }
    }
}
