using System.CommandLine;
using System.Data.Common;
using System.Text.Json;
using Isola.Cli.Client;
using Isola.Domain.Serialization;
using Isola.Server.Settings;
using Isola.Store;
using Isola.Store.Resources;

namespace Isola.Cli.Commands;

/// <summary>
/// <c>isola token reset-admin</c>: for an operator who lost the admin token. Works on the store itself, not
/// through the API (there is no token to call it with): makes a new admin token, prints its secret once,
/// and deletes every other admin token in the same transaction. Member and host tokens stay.
/// </summary>
internal static class TokenResetAdminCommand
{
    private static readonly Column[] Fields = [Column.Of("id"), Column.Of("role"), Column.Of("secret"), Column.Of("revoked")];

    public static Command Create(CliConsole console)
    {
        var config = new Option<string?>("--config") { Description = "A JSON file with an \"Isola\" section, as isola serve reads it (else ./appsettings.json when there)" };
        var store = new ServerFlags("Store");
        var format = new Option<string>("--format", "-f") { Description = "table for people, json or value for scripts", DefaultValueFactory = _ => ResultWriter.Table };
        format.AcceptOnlyFromAmong(ResultWriter.Table, ResultWriter.Json, ResultWriter.Value);
        var select = new Option<string[]>("--column", "-c") { Description = "Show this column (repeatable; table and value formats)" };
        var command = new Command("reset-admin", "Make a new admin token on the store (isola serve's --store, ISOLA__Store or appsettings.json) and revoke the other admin tokens") { config };
        store.AddTo(command);
        command.Options.Add(format);
        command.Options.Add(select);
        command.SetAction(async (parse, ct) =>
        {
            var (columns, unknown) = ResultWriter.Select(Fields, parse.GetValue(select) ?? []);
            if (unknown is not null)
                return console.Fail(ExitCodes.Usage, $"--column: no column '{unknown}'; there are {string.Join(", ", Fields.Select(c => c.Name))}");
            string path;
            try
            {
                path = ServerConfiguration.Load(new SettingsSources(parse.GetValue(config), Environment.CurrentDirectory, ServeCommand.ProcessEnvironment(), store.Given(parse)),
                    only: new HashSet<string> { "Store" }).Store;
            }
            catch (SettingsException e)
            {
                return ServeCommand.Fail(console, e);
            }
            var factory = StoreConnectionFactory.Parse(path);
            if (factory.Engine == StoreEngine.Sqlite && !File.Exists(path))
                return console.Fail(ExitCodes.Usage, $"no store at {Path.GetFullPath(path)} (isola serve makes it on its first start)");
            (TokenRecord Token, string Secret, int Revoked) reset;
            try
            {
                // The same migrations serve runs: the tokens table is there, whatever version made the store.
                await new PlacementStore(factory, TimeProvider.System).MigrateAsync(ct);
                reset = await new TokenStore(factory, TimeProvider.System).ResetAdminAsync();
            }
            catch (DbException e)
            {
                return console.Fail(ExitCodes.Failed, $"cannot use the store {factory.Describe()}: {e.Message}");
            }
            var answer = JsonSerializer.Serialize(new { reset.Token.Id, reset.Token.Role, reset.Secret, reset.Revoked }, IsolaJson.Options);
            var output = new ResultWriter(console, parse.GetValue(format)!, columns);
            output.Show(answer);
            if (output.IsTable)
                console.Out.WriteLine($"The secret is shown this once; the server keeps only its hash. {reset.Revoked} earlier admin token(s) no longer work.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
