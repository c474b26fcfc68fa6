using System.Text.Json;

namespace Isola.Cli.Client;

/// <summary>Where the API is and the token to send, and where each came from (for error messages).</summary>
internal sealed record ClientSettings(Uri Url, string UrlSource, string? Token, string? TokenSource)
{
    public const string DefaultUrl = "http://127.0.0.1:8780";

    /// <summary>
    /// Each value from the first that has it: the flag, then the environment (ISOLA_URL, ISOLA_TOKEN),
    /// then the config file (--config, else ISOLA_CONFIG, else $XDG_CONFIG_HOME/isola/config.json or
    /// ~/.config/isola/config.json); the URL defaults to <see cref="DefaultUrl"/>. The file is read
    /// only when a value is still missing; a file named by --config or ISOLA_CONFIG must exist.
    /// </summary>
    /// <exception cref="ClientSettingsException">A config file that cannot be read, or a URL that is not http(s).</exception>
    public static ClientSettings Resolve(string? urlFlag, string? tokenFlag, string? configFlag, Func<string, string?> environment)
    {
        var url = Given(urlFlag, "--url") ?? Given(environment("ISOLA_URL"), "ISOLA_URL");
        var token = Given(tokenFlag, "--token") ?? Given(environment("ISOLA_TOKEN"), "ISOLA_TOKEN");
        if (url is null || token is null)
        {
            var (path, required) = ConfigPath(configFlag, environment);
            if (path is not null && ConfigFile.Read(path, required) is { } file)
            {
                url ??= Given(file.Url, path);
                token ??= Given(file.Token, path);
            }
        }
        var (urlText, urlSource) = url ?? (DefaultUrl, "the default");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ClientSettingsException($"{urlSource}: '{urlText}' is not an http:// or https:// URL");
        return new ClientSettings(uri, urlSource, token?.Value, token?.Source);
    }

    private static (string Value, string Source)? Given(string? value, string source) =>
        string.IsNullOrWhiteSpace(value) ? null : (value.Trim(), source);

    /// <summary>The config file to read and whether it must exist (it was named, not defaulted).</summary>
    private static (string? Path, bool Required) ConfigPath(string? flag, Func<string, string?> environment)
    {
        if (!string.IsNullOrWhiteSpace(flag))
            return (flag, true);
        if (environment("ISOLA_CONFIG") is { Length: > 0 } named)
            return (named, true);
        var configHome = environment("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg
            : environment("HOME") is { Length: > 0 } home ? Path.Join(home, ".config")
            : null;
        return (configHome is null ? null : Path.Join(configHome, "isola", "config.json"), false);
    }

    private sealed record ConfigFile(string? Url, string? Token)
    {
        private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

        public static ConfigFile? Read(string path, bool required)
        {
            if (!File.Exists(path))
                return required ? throw new ClientSettingsException($"config file {path} does not exist") : null;
            try
            {
                return JsonSerializer.Deserialize<ConfigFile>(File.ReadAllText(path), Options)
                    ?? throw new ClientSettingsException($"config file {path}: expected {{\"url\": ..., \"token\": ...}}");
            }
            catch (JsonException e)
            {
                throw new ClientSettingsException($"config file {path}: {e.Message}");
            }
            catch (IOException e)
            {
                throw new ClientSettingsException($"config file {path}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                throw new ClientSettingsException($"config file {path}: {e.Message}");
            }
        }
    }
}

/// <summary>The client's settings are wrong: nothing was sent.</summary>
internal sealed class ClientSettingsException(string message) : Exception(message);
