using Isola.Server;
using Isola.Server.Settings;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Settings;

/// <summary>isola serve's settings: flags over ISOLA__* environment variables over the Isola section of appsettings.json.</summary>
public sealed class ServerConfigurationTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string File = """
        {
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Isola": {
            "Store": "/var/lib/isola/isola.db",
            "Urls": "http://127.0.0.1:9000",
            "VlanRanges": [ "physnet2:100:199", "physnet3:10:20" ],
            "VniRanges": [ "5000:5999" ],
            "GreRanges": [ "1:1000" ],
            "BuildTimeoutSeconds": 600,
            "Host": { "physicalDeviceMappings": [ "physnet2:p2p1" ] }
          }
        }
        """;

    private ServerSettings Load(string? file = File, Dictionary<string, string>? env = null, Dictionary<string, IReadOnlyList<string>>? flags = null, string? configFile = null)
    {
        if (file is not null)
            System.IO.File.WriteAllText(_dir.Sub("appsettings.json"), file);
        return ServerConfiguration.Load(new SettingsSources(configFile, _dir.Path, env ?? [], flags ?? []));
    }

    private IReadOnlyList<string> Errors(string? file = File, Dictionary<string, string>? env = null, Dictionary<string, IReadOnlyList<string>>? flags = null, string? configFile = null) =>
        Assert.Throws<SettingsException>(() => Load(file, env, flags, configFile)).Errors;

    [Fact]
    public void Nothing_given_is_the_defaults()
    {
        var settings = Load(file: null);
        Assert.Equal(new ServerSettings().Store, settings.Store);
        Assert.Equal("http://127.0.0.1:8780", settings.Urls);
        Assert.Null(settings.VlanRanges);
        Assert.Equal(300, settings.BuildTimeoutSeconds);
    }

    [Fact]
    public void Images_are_kept_beside_the_sqlite_store_or_in_the_data_dir_and_their_size_limit_takes_a_suffix()
    {
        Assert.Equal(Path.GetFullPath(".isola/images"), Load(file: null).ImageDirectory());
        Assert.Equal(64L << 30, Load(file: null).MaxImageBytes);
        var s = Load(env: new() { ["ISOLA__MaxImageBytes"] = "512M" }, flags: new() { ["DataDir"] = ["/srv/isola"] });
        Assert.Equal(("/var/lib/isola/images", 512L << 20), (Load().ImageDirectory(), s.MaxImageBytes));
        Assert.Equal("/srv/isola/images", s.ImageDirectory());
        Assert.Equal(Path.GetFullPath(".isola/images"), new ServerSettings("Host=127.0.0.1;Database=isola;Username=isola").ImageDirectory());
        Assert.Equal(4096, Load(env: new() { ["ISOLA__MaxImageBytes"] = "4096" }).MaxImageBytes);
        foreach (var wrong in new[] { "0", "-1", "64GB", "1025T", "lots", "" })
            Assert.Equal([$"ISOLA__MaxImageBytes: '{wrong}' is not a size of 1 byte to 1024T (e.g. 68719476736 or 64G)"], Errors(env: new() { ["ISOLA__MaxImageBytes"] = wrong }));
    }

    [Fact]
    public void The_file_alone_sets_every_setting_and_leaves_the_agents_host_section_alone()
    {
        var s = Load();
        Assert.Equal(("/var/lib/isola/isola.db", "http://127.0.0.1:9000", 600), (s.Store, s.Urls, s.BuildTimeoutSeconds));
        Assert.Equal(["physnet2:100:199", "physnet3:10:20"], s.VlanRanges!);
        Assert.Equal(["5000:5999"], s.VniRanges!);
        Assert.Equal(["1:1000"], s.GreRanges!);
        Assert.Equal([(1L, 1000L)], ServerSettings.Ranges(s.GreRanges));
    }

    [Fact]
    public void A_config_file_named_on_the_command_line_is_read_instead_of_appsettings_json()
    {
        var other = _dir.Sub("isola.json");
        System.IO.File.WriteAllText(other, """{ "Isola": { "Urls": "http://127.0.0.1:9100" } }""");
        var s = Load(configFile: other);
        Assert.Equal(("http://127.0.0.1:9100", ".isola/isola.db"), (s.Urls, s.Store));
        Assert.Contains(Errors(configFile: _dir.Sub("missing.json")), e => e.StartsWith("--config: no file ", StringComparison.Ordinal));
    }

    [Fact]
    public void The_environment_wins_over_the_file_and_a_list_is_taken_whole()
    {
        var s = Load(env: new()
        {
            ["ISOLA__Urls"] = "http://127.0.0.1:9200",
            ["ISOLA__VlanRanges__0"] = "physnet9:1:2",
            ["ISOLA__GRERANGES"] = "7:8, 20:30",
            ["ISOLA__BuildTimeoutSeconds"] = "30",
            ["ISOLA_URL"] = "the client's, not the server's",
        });
        Assert.Equal(("/var/lib/isola/isola.db", "http://127.0.0.1:9200", 30), (s.Store, s.Urls, s.BuildTimeoutSeconds));
        Assert.Equal(["physnet9:1:2"], s.VlanRanges!);
        Assert.Equal(["7:8", "20:30"], s.GreRanges!);
        Assert.Equal(["5000:5999"], s.VniRanges!);
        // An empty value says: none.
        Assert.Empty(Load(env: new() { ["ISOLA__VniRanges"] = "" }).VniRanges!);
        // ISOLA_STORE, the older name, is under ISOLA__Store.
        Assert.Equal("a.db", Load(env: new() { ["ISOLA_STORE"] = "a.db" }).Store);
        Assert.Equal("b.db", Load(env: new() { ["ISOLA_STORE"] = "a.db", ["ISOLA__Store"] = "b.db" }).Store);
    }

    [Fact]
    public void A_flag_wins_over_the_environment()
    {
        var s = Load(
            env: new() { ["ISOLA__Urls"] = "http://127.0.0.1:9200", ["ISOLA__GreRanges__0"] = "7:8", ["ISOLA__Store"] = "env.db" },
            flags: new() { ["Urls"] = ["http://127.0.0.1:9300"], ["GreRanges"] = ["100:200", "300:400"], ["BuildTimeoutSeconds"] = ["45"] });
        Assert.Equal(("env.db", "http://127.0.0.1:9300", 45), (s.Store, s.Urls, s.BuildTimeoutSeconds));
        Assert.Equal(["100:200", "300:400"], s.GreRanges!);
        Assert.Equal(["physnet2:100:199", "physnet3:10:20"], s.VlanRanges!);
    }

    [Theory]
    [InlineData("file", "BuildTimeoutSeconds", "\"soon\"", "Isola:BuildTimeoutSeconds in ", "'soon' is not a whole number of seconds")]
    [InlineData("file", "BuildTimeoutSeconds", "0", "Isola:BuildTimeoutSeconds in ", "'0' is not a whole number of seconds")]
    [InlineData("file", "VlanRanges", "[\"physnet2:100\"]", "Isola:VlanRanges in ", "'physnet2:100' is not physnet:first:last")]
    [InlineData("file", "VlanRanges", "[\"physnet2:0:10\"]", "Isola:VlanRanges in ", "a VLAN id is 1-4094")]
    [InlineData("file", "Urls", "[\"http://a:1\"]", "Isola:Urls in ", "must be one value")]
    [InlineData("file", "Port", "8780", "Isola:Port in ", "no such setting; there are Store, Urls")]
    [InlineData("env", "ISOLA__VniRanges__0", "9:1", "ISOLA__VniRanges: ", "the first is above the last")]
    [InlineData("env", "ISOLA__VniRanges", "1:16777216", "ISOLA__VniRanges: ", "a VNI is 1-16777215")]
    [InlineData("env", "ISOLA__Urls", "127.0.0.1:8780", "ISOLA__Urls: ", "is not an http:// or https:// address")]
    [InlineData("env", "ISOLA__Stor", "x.db", "ISOLA__Stor: ", "no such setting")]
    [InlineData("flag", "GreRanges", "1:4294967296", "--gre-range: ", "a GRE key is 1-4294967295")]
    [InlineData("flag", "BuildTimeoutSeconds", "1e3", "--build-timeout: ", "is not a whole number of seconds 1-86400")]
    [InlineData("flag", "Store", " ", "--store: ", "must name a SQLite file or a PostgreSQL connection string")]
    public void A_wrong_or_unknown_setting_is_named_with_where_it_came_from(string layer, string key, string value, string where, string rule)
    {
        var errors = layer switch
        {
            "file" => Errors(file: $$"""{ "Isola": { "{{key}}": {{value}} } }"""),
            "env" => Errors(file: null, env: new() { [key] = value }),
            _ => Errors(file: null, flags: new() { [key] = [value] }),
        };
        var error = Assert.Single(errors);
        Assert.StartsWith(where, error, StringComparison.Ordinal);
        Assert.Contains(rule, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_wrong_setting_is_reported_at_once_and_a_file_that_does_not_parse_is_named()
    {
        var errors = Errors(file: """{ "Isola": { "Urls": "ftp://x", "VniRanges": ["a:b"] } }""", env: new() { ["ISOLA__BuildTimeoutSeconds"] = "-1" });
        Assert.Equal(3, errors.Count);
        var broken = Assert.Single(Errors(file: """{ "Isola": { "Urls": """));
        Assert.StartsWith(_dir.Sub("appsettings.json") + ": not a JSON settings file", broken, StringComparison.Ordinal);
    }
}
