using System.CommandLine;

namespace Isola.Cli.Client;

/// <summary>The options every client verb takes (--url, --token, --config, -f, -c) and the one place its call is made and its errors printed.</summary>
internal sealed class ClientCommand
{
    private readonly CliConsole _console;
    private readonly IReadOnlyList<Column> _columns;
    private readonly Option<string?> _url = new("--url") { Description = $"The API (else ISOLA_URL, else the config file, else {ClientSettings.DefaultUrl})" };
    private readonly Option<string?> _token = new("--token") { Description = "The token (else ISOLA_TOKEN, else the config file)" };
    private readonly Option<string?> _config = new("--config") { Description = "Config file {\"url\", \"token\"} (else ISOLA_CONFIG, else ~/.config/isola/config.json)" };
    private readonly Option<string> _format = new("--format", "-f") { Description = "table for people, json (the API's answer as is) or value for scripts", DefaultValueFactory = _ => ResultWriter.Table };
    private readonly Option<string[]> _select = new("--column", "-c") { Description = "Show this column (repeatable; table and value formats)" };

    /// <param name="columns">What the table shows; -c picks among them. Empty for verbs that print nothing.</param>
    private ClientCommand(Command command, CliConsole console, IReadOnlyList<Column> columns)
    {
        Command = command;
        _console = console;
        _columns = columns;
        _format.AcceptOnlyFromAmong(ResultWriter.Table, ResultWriter.Json, ResultWriter.Value);
    }

    public Command Command { get; }

    public static ClientCommand Create(string name, string description, CliConsole console, IReadOnlyList<Column> columns) =>
        new(new Command(name, description), console, columns);

    /// <summary>
    /// Adds the common options (after the verb's own, for the help) and the action: settings resolved,
    /// -c checked, then <paramref name="work"/> with a client and a writer; API errors become exit codes.
    /// </summary>
    public void SetAction(Func<ParseResult, ApiClient, ResultWriter, CancellationToken, Task<int>> work)
    {
        Command.Options.Add(_url);
        Command.Options.Add(_token);
        Command.Options.Add(_config);
        if (_columns.Count > 0)
        {
            Command.Options.Add(_format);
            Command.Options.Add(_select);
        }
        Command.SetAction(async (parse, ct) =>
        {
            var (columns, unknown) = ResultWriter.Select(_columns, parse.GetValue(_select) ?? []);
            if (unknown is not null)
                return _console.Fail(ExitCodes.Usage, $"--column: no column '{unknown}'; there are {string.Join(", ", _columns.Select(c => c.Name))}");
            ClientSettings settings;
            try
            {
                settings = ClientSettings.Resolve(parse.GetValue(_url), parse.GetValue(_token), parse.GetValue(_config), Environment.GetEnvironmentVariable);
            }
            catch (ClientSettingsException e)
            {
                return _console.Fail(ExitCodes.Usage, e.Message);
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
            try
            {
                return await work(parse, new ApiClient(http, settings), new ResultWriter(_console, parse.GetValue(_format)!, columns), ct);
            }
            catch (ApiCallException e)
            {
                return _console.Fail(e.ExitCode, e.Describe());
            }
            catch (ArgumentException e)
            {
                // A value the command line could not turn into a request (e.g. a --nic spec).
                return _console.Fail(ExitCodes.Usage, e.Message);
            }
        });
    }
}
