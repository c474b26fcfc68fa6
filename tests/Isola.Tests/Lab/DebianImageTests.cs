using Isola.Lab.Guest;
using Isola.Tests.Support;

namespace Isola.Tests.Lab;

/// <summary>The Debian guest's build inputs: the mirror apt uses, and the cache key that changes with what the image is built from.</summary>
public sealed class DebianImageTests
{
    [Fact]
    public void The_mirror_is_the_one_apt_uses_for_bookworm_in_either_sources_format()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.Sub("sources.list.d"));
        // deb822: the security and backports stanzas are not the suite itself.
        File.WriteAllText(dir.Sub("sources.list.d/debian.sources"), """
            Types: deb
            URIs: http://security.example.org/debian-security
            Suites: bookworm-security
            Components: main

            Types: deb
            # a comment
            URIs: http://mirror.example.org/debian/
            Suites: bookworm bookworm-updates
            Components: main
            """);
        Assert.Equal("http://mirror.example.org/debian", DebianImage.Mirror(dir.Path));

        File.WriteAllText(dir.Sub("sources.list"), "# deb http://old.example.org/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://list.example.org/debian bookworm main\n");
        Assert.Equal("http://list.example.org/debian", DebianImage.Mirror(dir.Path));

        using var empty = new TempDir();
        Assert.Equal("http://deb.debian.org/debian", DebianImage.Mirror(empty.Path));
    }

    [Fact]
    public void The_cache_key_follows_the_mirror()
    {
        Assert.Equal(DebianImage.Key("http://a.example.org/debian"), DebianImage.Key("http://a.example.org/debian"));
        Assert.NotEqual(DebianImage.Key("http://a.example.org/debian"), DebianImage.Key("http://b.example.org/debian"));
        Assert.Matches("^[0-9a-f]{16}$", DebianImage.Key("http://a.example.org/debian"));
    }
}
