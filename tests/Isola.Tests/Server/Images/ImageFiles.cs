using System.Security.Cryptography;
using Isola.Host.Commands;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Images;

/// <summary>Disk image files made the way operators make them, with the real qemu-img, in a directory of the test's.</summary>
internal sealed class ImageFiles : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly ProcessCommandRunner Run = new(TimeSpan.FromSeconds(60));

    public string Dir => _dir.Path;

    /// <summary><c>qemu-img create -f qcow2 [OPTIONS] NAME SIZE</c>.</summary>
    public async Task<string> Qcow2Async(string name, string size = "16M", params string[] options)
    {
        var path = _dir.Sub(name);
        var result = await Run.RunAsync(["qemu-img", "create", "-f", "qcow2", .. options, path, size]);
        Assert.True(result.Succeeded, result.Describe(["qemu-img", "create", name]));
        return path;
    }

    /// <summary>A qcow2 over a backing file: <c>qemu-img create -f qcow2 -b base.qcow2 -F qcow2 over.qcow2</c>.</summary>
    public async Task<string> OverlayAsync()
    {
        var path = _dir.Sub("over.qcow2");
        await Qcow2Async("base.qcow2");
        var result = await Run.RunAsync(["qemu-img", "create", "-f", "qcow2", "-b", _dir.Sub("base.qcow2"), "-F", "qcow2", path]);
        Assert.True(result.Succeeded, result.Describe(["qemu-img", "create", "over.qcow2"]));
        return path;
    }

    /// <summary>A qcow2 whose data is in an external file (<c>-o data_file=...</c>).</summary>
    public Task<string> ExternalDataAsync() => Qcow2Async("ext.qcow2", "1M", "-o", $"data_file={_dir.Sub("ext.data")}");

    /// <summary>A raw disk of <paramref name="bytes"/> bytes of seeded noise (no format's magic at its start).</summary>
    public string Raw(string name, int bytes, int seed = 1)
    {
        var path = _dir.Sub(name);
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(path, data);
        return path;
    }

    public static string Sha256(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    public void Dispose() => _dir.Dispose();
}
