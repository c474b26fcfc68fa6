using System.Text.Json;
using Isola.Cli;
using Isola.Tests.Server;
using Isola.Tests.Server.Images;
using Isola.Tests.Support;

namespace Isola.Tests.Cli.Client;

/// <summary>isola server create --image --user-data --key-file against a real API server, and the image in server list and show.</summary>
public sealed class ServerBootCommandTests : IDisposable
{
    private readonly ImageFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task A_server_created_from_an_image_with_user_data_and_key_files_boots_with_them_and_shows_its_image()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        var (exit, _, error) = await w.Run("flavor", "create", "--vcpus", "1", "--ram", "1024", "--disk", "5", "--property", "hw:cpu_policy=dedicated", "small");
        Assert.True(exit == ExitCodes.Ok, error);
        (exit, _, error) = await w.RunAs(member, "image", "create", "--file", await _files.Qcow2Async("cirros.qcow2"), "--disk-format", "qcow2", "cirros");
        Assert.True(exit == ExitCodes.Ok, error);
        var userData = Path.Join(_files.Dir, "user-data");
        await File.WriteAllTextAsync(userData, "#cloud-config\npackages: [iperf3]\n");
        var keys = Path.Join(_files.Dir, "keys");
        string[] lines = [TestKeys.Ed25519(1, "alice@laptop"), TestKeys.Ed25519(2, "bob@desk"), TestKeys.Ecdsa256(3)];
        // As authorized_keys: comments and blank lines are not keys.
        await File.WriteAllTextAsync(keys, $"# team keys\n{lines[0]}\n\n{lines[1]}\n");
        var single = Path.Join(_files.Dir, "id_ecdsa.pub");
        await File.WriteAllTextAsync(single, lines[2] + "\n");

        var (code, output, err) = await w.RunAs(member, "server", "create", "--flavor", "small", "--image", "cirros", "--user-data", userData,
            "--key-file", keys, "--key-file", single, "vm1");

        Assert.True(code == ExitCodes.Ok, err);
        Assert.Matches(@"│ image\s+│ cirros\s+│", output);
        using var api = w.Server.Client(member);
        var plan = (await api.Get("/v1/servers/vm1/plan")).Body;
        Assert.Equal("#cloud-config\npackages: [iperf3]\n", plan.GetProperty("configDrive").Str("userData"));
        Assert.Contains($"public-keys:\n  - \"{lines[0]}\"\n  - \"{lines[1]}\"\n  - \"{lines[2]}\"\n", plan.GetProperty("configDrive").Str("metaData"), StringComparison.Ordinal);

        (code, output, err) = await w.RunAs(member, "server", "list", "-f", "value", "-c", "name", "-c", "image");
        Assert.Equal((ExitCodes.Ok, "vm1 cirros"), (code, output.Trim()));
        (code, output, _) = await w.RunAs(member, "server", "show", "vm1", "-f", "json");
        var shown = JsonDocument.Parse(output).RootElement;
        Assert.Equal("cirros", shown.GetProperty("image").Str("name"));
        Assert.Equal(lines.Select(TestKeys.Fingerprint), shown.GetProperty("sshKeys").EnumerateArray().Select(k => k.Str("fingerprint")));
    }

    [Fact]
    public async Task A_file_that_cannot_be_read_or_holds_no_key_is_a_usage_error_and_the_apis_refusal_names_its_field()
    {
        await using var w = await ClientWorld.StartAsync(hosts: 1);
        var member = await w.MemberOf("tenant-a");
        Assert.Equal(ExitCodes.Ok, (await w.Run("flavor", "create", "--vcpus", "1", "--ram", "1024", "--disk", "5", "small")).Exit);
        var empty = Path.Join(_files.Dir, "empty.pub");
        await File.WriteAllTextAsync(empty, "# nothing here\n\n");
        var bad = Path.Join(_files.Dir, "bad.pub");
        await File.WriteAllTextAsync(bad, "ssh-ed25519 not-base64 x\n");

        var (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--key-file", Path.Join(_files.Dir, "none.pub"), "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--key-file: cannot read", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--key-file", empty, "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("holds no key", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--user-data", Path.Join(_files.Dir, "none"), "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--user-data: cannot read", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--key-file", bad, "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("field: sshKeys[0]", error, StringComparison.Ordinal);
        (exit, _, error) = await w.RunAs(member, "server", "create", "--flavor", "small", "--image", "nope", "vm");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("field: image", error, StringComparison.Ordinal);
        Assert.Empty((await w.Server.Client(member).Get("/v1/servers")).Body.EnumerateArray());
    }
}
