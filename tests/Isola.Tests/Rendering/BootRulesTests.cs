using Isola.Host.Commands;
using Isola.Rendering.Boot;
using Isola.Scheduling.Requests;
using Isola.Tests.Support;

namespace Isola.Tests.Rendering;

/// <summary>The root disk's size and the rules of what a server boots with; SSH keys read as OpenSSH writes them.</summary>
public sealed class BootRulesTests
{
    private static readonly ProcessCommandRunner Run = new(TimeSpan.FromSeconds(30));

    private static Flavor WithDisk(int gib) => new("f", 1, 1024, gib, new Dictionary<string, string>());

    [Theory]
    [InlineData(10, 1L << 30, 0, 10)]            // the flavor's disk
    [InlineData(0, 1L << 30, 0, 1)]              // disk 0: the image's virtual size
    [InlineData(0, (3L << 30) + 1, 0, 4)]        // rounded up to whole GiB
    [InlineData(0, 3L << 30, 8, 8)]              // at least its minDisk
    [InlineData(0, 0, 0, 0)]                     // an image of an earlier spec (no virtual size) on disk 0: what the flavor says
    public void The_root_disk_is_the_flavors_or_for_disk_0_the_images(int flavorDisk, long virtualSize, int minDisk, int gib)
    {
        var image = new ImageRef("i", "qcow2", new string('a', 64), 1000, virtualSize, minDisk);

        Assert.Equal(gib, BootRules.RootDiskGiB(WithDisk(flavorDisk), image));
        Assert.Equal(flavorDisk, BootRules.RootDiskGiB(WithDisk(flavorDisk), null));
    }

    [Fact]
    public void A_flavor_disk_that_holds_neither_the_min_disk_nor_the_virtual_size_is_refused_and_disk_0_takes_any()
    {
        var image = new ImageRef("i", "qcow2", new string('a', 64), 1000, (10L << 30) + 1, 4);

        Assert.Equal(["flavor"], BootRules.CheckDisk(WithDisk(3), image, "cirros").Select(e => e.Field));
        Assert.Contains("image cirros needs at least 4 GiB (its minDisk)", BootRules.CheckDisk(WithDisk(3), image, "cirros").Single().Message, StringComparison.Ordinal);
        Assert.Contains("(11 GiB, its virtualSize)", BootRules.CheckDisk(WithDisk(10), image).Single().Message, StringComparison.Ordinal);
        Assert.Empty(BootRules.CheckDisk(WithDisk(11), image));
        Assert.Empty(BootRules.CheckDisk(WithDisk(0), image));
    }

    [Fact]
    public void User_data_past_65535_bytes_and_more_than_16_keys_are_refused()
    {
        Assert.Empty(BootRules.CheckGuest(new GuestBoot(null, new string('é', 32767), [TestKeys.Ed25519(1)])));
        Assert.Equal(["userData"], BootRules.CheckGuest(new GuestBoot(null, new string('é', 32768))).Select(e => e.Field));
        Assert.Equal(["sshKeys"], BootRules.CheckGuest(new GuestBoot(null, null, Enumerable.Range(0, 17).Select(i => TestKeys.Ed25519(i)).ToList())).Select(e => e.Field));
    }

    [Theory]
    [InlineData("ed25519", null)]
    [InlineData("rsa", "3072")]
    [InlineData("ecdsa", "384")]
    public async Task A_key_ssh_keygen_made_reads_with_the_fingerprint_ssh_keygen_prints(string type, string? bits)
    {
        using var dir = new TempDir();
        var file = dir.Sub("id");
        string[] make = ["ssh-keygen", "-q", "-t", type, .. bits is null ? Array.Empty<string>() : ["-b", bits], "-N", "", "-C", "alice@laptop", "-f", file];
        Assert.True((await Run.RunAsync(make)).Succeeded, string.Join(' ', make));
        var printed = await Run.RunAsync(["ssh-keygen", "-l", "-E", "sha256", "-f", file + ".pub"]);
        Assert.True(printed.Succeeded, printed.StandardError);
        var line = (await File.ReadAllTextAsync(file + ".pub")).Trim();

        var key = SshPublicKey.Parse(line, out var problem);

        Assert.True(key is not null, problem);
        Assert.Equal(printed.StandardOutput.Split(' ')[1], key.Fingerprint);
        Assert.Equal(("alice@laptop", line), (key.Comment, key.Line));
    }

    [Theory]
    [InlineData("ssh-ed25519", "has no base64 body")]
    [InlineData("ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4Ed", "not a key type")]
    [InlineData("ssh-ed25519-cert-v01@openssh.com AAAA", "not a key type")]
    [InlineData("command=\"ls\" ssh-ed25519 AAAA", "authorized_keys options and certificates are not taken")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "nothing of the key")]
    [InlineData("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB", "says ssh-ed25519 but its body is a ssh-rsa key")]
    [InlineData("ssh-ed25519 AAAA@@@@", "not base64")]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\rx", "line break")]
    public void A_line_that_is_not_an_openssh_public_key_says_why(string line, string says)
    {
        Assert.Null(SshPublicKey.Parse(line, out var problem));
        Assert.Contains(says, problem, StringComparison.Ordinal);
    }
}
