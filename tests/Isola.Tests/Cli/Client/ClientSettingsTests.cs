using Isola.Cli.Client;
using Isola.Tests.Support;

namespace Isola.Tests.Cli.Client;

/// <summary>Flags over environment over config file; the environment is a dictionary here, never the process's.</summary>
public sealed class ClientSettingsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    private string Config(string json, string name = "config.json")
    {
        var path = _dir.Sub(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Flags_win_over_the_environment_which_wins_over_the_file()
    {
        var file = Config("""{ "url": "http://file:1", "token": "from-file" }""");
        var env = Env(("ISOLA_URL", "http://env:2"), ("ISOLA_TOKEN", "from-env"), ("ISOLA_CONFIG", file));

        var s = ClientSettings.Resolve("http://flag:3", "from-flag", null, env);
        Assert.Equal(("http://flag:3/", "--url", "from-flag", "--token"), (s.Url.ToString(), s.UrlSource, s.Token, s.TokenSource));
        s = ClientSettings.Resolve(null, null, null, env);
        Assert.Equal(("http://env:2/", "ISOLA_URL", "from-env", "ISOLA_TOKEN"), (s.Url.ToString(), s.UrlSource, s.Token, s.TokenSource));
        s = ClientSettings.Resolve(null, null, null, Env(("ISOLA_CONFIG", file)));
        Assert.Equal(("http://file:1/", file, "from-file", file), (s.Url.ToString(), s.UrlSource, s.Token, s.TokenSource));
        // Each value on its own: a token from the environment, the URL from the file.
        s = ClientSettings.Resolve(null, null, null, Env(("ISOLA_CONFIG", file), ("ISOLA_TOKEN", "from-env")));
        Assert.Equal(("http://file:1/", "from-env"), (s.Url.ToString(), s.Token));
    }

    [Fact]
    public void The_config_flag_wins_over_ISOLA_CONFIG()
    {
        var named = Config("""{ "token": "named" }""", "named.json");
        var fromEnv = Config("""{ "token": "env" }""", "env.json");
        Assert.Equal("named", ClientSettings.Resolve(null, null, named, Env(("ISOLA_CONFIG", fromEnv))).Token);
    }

    [Fact]
    public void The_default_file_is_under_XDG_CONFIG_HOME_else_HOME()
    {
        Config("""{ "url": "https://xdg:8780", "token": "x" }""", "xdg/isola/config.json");
        Config("""{ "url": "https://home:8780", "token": "h" }""", "home/.config/isola/config.json");
        Assert.Equal("x", ClientSettings.Resolve(null, null, null, Env(("XDG_CONFIG_HOME", _dir.Sub("xdg")), ("HOME", _dir.Sub("home")))).Token);
        Assert.Equal("h", ClientSettings.Resolve(null, null, null, Env(("HOME", _dir.Sub("home")))).Token);
    }

    [Fact]
    public void Without_anything_the_url_is_the_local_default_and_there_is_no_token()
    {
        var s = ClientSettings.Resolve(null, null, null, Env(("HOME", _dir.Sub("nobody"))));
        Assert.Equal(("http://127.0.0.1:8780/", "the default", null), (s.Url.ToString(), s.UrlSource, s.Token));
    }

    [Fact]
    public void A_named_file_must_exist_and_parse_and_the_url_must_be_http()
    {
        var missing = Assert.Throws<ClientSettingsException>(() => ClientSettings.Resolve(null, null, _dir.Sub("nope.json"), Env()));
        Assert.Contains("nope.json does not exist", missing.Message, StringComparison.Ordinal);
        var bad = Config("{ not json");
        Assert.Contains(bad, Assert.Throws<ClientSettingsException>(() => ClientSettings.Resolve(null, null, null, Env(("ISOLA_CONFIG", bad)))).Message,
            StringComparison.Ordinal);
        var ftp = Assert.Throws<ClientSettingsException>(() => ClientSettings.Resolve(null, "t", null, Env(("ISOLA_URL", "ftp://x"))));
        Assert.StartsWith("ISOLA_URL: 'ftp://x'", ftp.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_file_is_not_read_when_flags_and_environment_give_everything()
    {
        var s = ClientSettings.Resolve(null, "t", null, Env(("ISOLA_URL", "http://env:2"), ("ISOLA_CONFIG", _dir.Sub("missing.json"))));
        Assert.Equal("http://env:2/", s.Url.ToString());
    }
}
