using System.Diagnostics;
using System.Globalization;

namespace Isola.Lab;

/// <summary>A job's answer: its exit code and what it printed (stdout and stderr together).</summary>
public sealed record LabResult(int ExitCode, string Output);

/// <summary>Where a lab host's boot or job went wrong, with the end of its console for the reason.</summary>
public sealed class LabException(string message) : Exception(message);

/// <summary>How to boot a lab host: where its files go, how long a boot may take, which accelerator.</summary>
/// <param name="Accel">Null: KVM where a probe boot shows it works on this machine, else TCG.</param>
public sealed record LabOptions(string? Directory = null, TimeSpan? BootTimeout = null, LabAccel? Accel = null)
{
    /// <summary>From the environment: ISOLA_LAB_DIR, ISOLA_LAB_BOOT_TIMEOUT (seconds), ISOLA_LAB_ACCEL (tcg, kvm or auto).</summary>
    public static LabOptions FromEnvironment() => new(
        Environment.GetEnvironmentVariable("ISOLA_LAB_DIR") is { Length: > 0 } dir ? dir : null,
        int.TryParse(Environment.GetEnvironmentVariable("ISOLA_LAB_BOOT_TIMEOUT"), CultureInfo.InvariantCulture, out var s) ? TimeSpan.FromSeconds(s) : null,
        Environment.GetEnvironmentVariable("ISOLA_LAB_ACCEL") switch { "tcg" => LabAccel.Tcg, "kvm" => LabAccel.Kvm, _ => null });
}

/// <summary>
/// A lab host: a QEMU guest of a declared <see cref="LabShape"/> running the machine's stock kernel with
/// its own drivers, booted once and then given jobs (shell scripts) one after another. Everything it
/// made (its directory, the QEMU process) goes with <see cref="DisposeAsync"/>.
/// </summary>
public sealed class LabHost : IAsyncDisposable
{
    private readonly Process _qemu;
    private readonly bool _keep;
    private int _jobs;

    private LabHost(LabShape shape, LabFiles files, Process qemu, LabAccel accel, bool keep)
    {
        Shape = shape;
        Files = files;
        _qemu = qemu;
        Accel = accel;
        _keep = keep;
    }

    public LabShape Shape { get; }

    public LabFiles Files { get; }

    public LabAccel Accel { get; }

    /// <summary>The guest kernel's release (<c>uname -r</c> inside).</summary>
    public string KernelRelease { get; private set; } = "";

    /// <summary>The SR-IOV devices as the guest found them (PCI address, vendor:device, NUMA node, VFs), in the shape's order.</summary>
    public IReadOnlyList<(string Address, string Id, int NumaNode, int Vfs)> Devices { get; private set; } = [];

    /// <summary>What is missing for a lab on this machine (null: nothing): QEMU, a kernel with its modules, busybox.</summary>
    public static string? Missing()
    {
        if (!LabKernel.OnPath(QemuCommand.Binary))
            return $"{QemuCommand.Binary} is not installed (Debian: qemu-system-x86 from bookworm-backports, for the igb device)";
        if (LabKernel.Find() is null)
            return "no kernel with its modules under /boot and /lib/modules (Debian: linux-image-amd64)";
        if (!File.Exists(LabKernel.Busybox))
            return $"{LabKernel.Busybox} is missing (Debian: busybox-static)";
        return null;
    }

    public static async Task<LabHost> BootAsync(LabShape shape, LabOptions? options = null, CancellationToken ct = default)
    {
        shape.Check();
        options ??= LabOptions.FromEnvironment();
        if (Missing() is { } missing)
            throw new LabException($"a lab host cannot boot here: {missing}");
        var kernel = LabKernel.Find()!;
        var dir = options.Directory ?? Path.Join(Path.GetTempPath(), "isola-lab-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Join(dir, "exchange"));
        var files = new LabFiles(kernel.Image, Path.Join(dir, "initramfs.cpio"), dir);
        await File.WriteAllBytesAsync(files.Initramfs, LabKernel.Initramfs(kernel), ct);
        for (var i = 0; i < shape.Nvmes.Count; i++)
        {
            await using var image = File.Create(files.NvmeImage(i));
            image.SetLength((long)shape.Nvmes[i].SizeMiB << 20);
        }
        var timeout = options.BootTimeout ?? TimeSpan.FromMinutes(5);
        var accel = options.Accel ?? (await LabKernel.KvmUsableAsync(ct) ? LabAccel.Kvm : LabAccel.Tcg);
        var qemu = Start(QemuCommand.Argv(shape, files, accel), dir);
        var lab = new LabHost(shape, files, qemu, accel, options.Directory is not null);
        try
        {
            lab.KernelRelease = (await lab.WaitForAsync(Path.Join(files.Exchange, LabInit.ReadyMark), timeout, "the lab host to boot", ct)).Trim();
            var found = await lab.RunAsync(LabInit.EnableVfs(shape), TimeSpan.FromMinutes(2), ct);
            if (found.ExitCode != 0)
                throw new LabException($"enabling the lab's VFs failed ({found.ExitCode}): {found.Output}");
            lab.Devices = found.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ') is [var a, var id, var node, var vfs]
                ? (a, id.Replace("0x", "", StringComparison.Ordinal), int.Parse(node, CultureInfo.InvariantCulture), int.Parse(vfs, CultureInfo.InvariantCulture))
                : throw new LabException($"the lab's device line '{line}' is not address id node vfs")).ToList();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a shell script in the lab (as root, from /, after the jobs before it) and waits for its end.</summary>
    public async Task<LabResult> RunAsync(string script, TimeSpan timeout, CancellationToken ct = default)
    {
        var n = Interlocked.Increment(ref _jobs).ToString("D6", CultureInfo.InvariantCulture);
        var jobs = Path.Join(Files.Exchange, "jobs");
        Directory.CreateDirectory(jobs);
        var path = Path.Join(jobs, n);
        await File.WriteAllTextAsync(path + ".tmp", script.Replace("\r\n", "\n", StringComparison.Ordinal), ct);
        File.Move(path + ".tmp", path + ".sh");
        var rc = await WaitForAsync(path + ".rc", timeout, $"job {n}", ct);
        var output = File.Exists(path + ".out") ? await File.ReadAllTextAsync(path + ".out", ct) : "";
        return new LabResult(int.Parse(rc.Trim(), CultureInfo.InvariantCulture), output);
    }

    /// <summary>The end of the guest's console: what the kernel and the lab's init said.</summary>
    public string ConsoleTail(int lines = 30) =>
        File.Exists(Files.Console) ? string.Join('\n', File.ReadLines(Files.Console).TakeLast(lines)) : "(no console)";

    private async Task<string> WaitForAsync(string file, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (File.Exists(file))
                return await File.ReadAllTextAsync(file, ct);
            if (_qemu.HasExited)
                throw new LabException($"the lab host stopped (QEMU exit {_qemu.ExitCode}) while waiting for {what}:\n{ConsoleTail()}\n{await ReadAsync(Path.Join(Files.Directory, "qemu.log"))}");
            if (deadline.Elapsed > timeout)
                throw new LabException($"waited {timeout.TotalSeconds:0} s for {what}:\n{ConsoleTail()}");
            await Task.Delay(100, ct);
        }
    }

    private static async Task<string> ReadAsync(string path) => File.Exists(path) ? await File.ReadAllTextAsync(path) : "";

    private static Process Start(IReadOnlyList<string> argv, string dir)
    {
        var info = new ProcessStartInfo(argv[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in argv.Skip(1))
            info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new LabException($"{argv[0]} did not start");
        var log = Path.Join(dir, "qemu.log");
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static readonly Lock LogLock = new();

    private static void Append(string log, string? line)
    {
        if (line is null)
            return;
        lock (LogLock)
            File.AppendAllText(log, line + "\n");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_qemu.HasExited)
        {
            // Asked to power off; killed when it does not within a few seconds (nothing in the lab is worth keeping).
            try
            {
                await File.WriteAllTextAsync(Path.Join(Files.Exchange, LabInit.PoweroffMark), "");
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _qemu.WaitForExitAsync(wait.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                _qemu.Kill(entireProcessTree: true);
                await _qemu.WaitForExitAsync();
            }
        }
        _qemu.Dispose();
        if (!_keep)
        {
            try
            {
                Directory.Delete(Files.Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
