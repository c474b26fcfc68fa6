using Isola.Host.Commands;
using Isola.Server.Images;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Images;

/// <summary>qemu-img's checks of an upload: the exact argv, and the real qemu-img's answers about real files.</summary>
public sealed class ImageInspectorTests : IDisposable
{
    private readonly ImageFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly ImageInspector Real = new(new ProcessCommandRunner(ImageInspector.Timeout));

    [Fact]
    public async Task A_raw_upload_is_read_as_raw_and_probed_a_qcow2_only_as_qcow2()
    {
        const string Answer = """{"format": "raw", "virtual-size": 4096}""";
        string[] limits = ["prlimit", "--as=1073741824", "--cpu=30"];
        var runner = new ScriptedCommandRunner()
            .Answer([.. limits, "qemu-img", "info", "--output=json", "-f", "raw", "/f"], Answer)
            .Answer([.. limits, "qemu-img", "info", "--output=json", "/f"], Answer)
            .Answer([.. limits, "qemu-img", "info", "--output=json", "-f", "qcow2", "/f"], """{"format": "qcow2", "virtual-size": 8192}""");
        var inspector = new ImageInspector(runner);

        Assert.Equal(4096, (await inspector.InspectAsync("/f", "raw", default)).VirtualSize);
        Assert.Equal(8192, (await inspector.InspectAsync("/f", "qcow2", default)).VirtualSize);
        Assert.Equal([
            [.. limits, "qemu-img", "info", "--output=json", "-f", "raw", "/f"], [.. limits, "qemu-img", "info", "--output=json", "/f"],
            [.. limits, "qemu-img", "info", "--output=json", "-f", "qcow2", "/f"]], runner.Calls);
    }

    [Fact]
    public async Task A_qemu_img_that_runs_past_its_time_refuses_the_image_and_one_that_is_not_installed_is_the_servers_failure()
    {
        var slow = new ScriptedCommandRunner().Answer(ImageInspector.InfoArgv("/f", "qcow2"), new CommandResult(CommandResult.TimedOut, "", ""));
        var problem = Assert.Single((await new ImageInspector(slow).InspectAsync("/f", "qcow2", default)).Problems);
        Assert.Equal(("body", "qemu-img could not read the image within 30 s"), (problem.Field, problem.Message));

        var none = await Assert.ThrowsAsync<InvalidOperationException>(() => new ImageInspector(new ScriptedCommandRunner()).InspectAsync("/f", "qcow2", default));
        Assert.Contains("qemu-utils", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_real_qemu_img_passes_a_plain_qcow2_and_names_what_is_wrong_with_the_others()
    {
        var plain = await Real.InspectAsync(await _files.Qcow2Async("plain.qcow2", "32M"), "qcow2", default);
        Assert.Equal((32L << 20, 0), (plain.VirtualSize, plain.Problems.Count));

        Assert.Equal(["backing-filename"], (await Real.InspectAsync(await _files.OverlayAsync(), "qcow2", default)).Problems.Select(p => p.Field));
        Assert.Equal(["data-file"], (await Real.InspectAsync(await _files.ExternalDataAsync(), "qcow2", default)).Problems.Select(p => p.Field));
        var declaredRaw = Assert.Single((await Real.InspectAsync(await _files.Qcow2Async("q.qcow2"), "raw", default)).Problems);
        Assert.Equal("diskFormat", declaredRaw.Field);
        Assert.StartsWith("the file is a qcow2 image (qemu-img probed its format), not raw", declaredRaw.Message, StringComparison.Ordinal);
        var declaredQcow2 = Assert.Single((await Real.InspectAsync(_files.Raw("r.raw", 65536), "qcow2", default)).Problems);
        Assert.Equal(("diskFormat", "the file is not a qcow2 image: Image is not in qcow2 format"), (declaredQcow2.Field, declaredQcow2.Message));
        var raw = await Real.InspectAsync(_files.Raw("r2.raw", 65536), "raw", default);
        Assert.Equal((65536L, 0), (raw.VirtualSize, raw.Problems.Count));
    }
}
