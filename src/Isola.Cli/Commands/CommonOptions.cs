using System.CommandLine;

namespace Isola.Cli.Commands;

internal static class CommonOptions
{
    public const string Table = "table";
    public const string Json = "json";

    /// <summary>-f table|json, as the openstack client has it.</summary>
    public static Option<string> Format()
    {
        var option = new Option<string>("--format", "-f")
        {
            Description = "Output format: table for people, json for scripts",
            DefaultValueFactory = _ => Table,
        };
        option.AcceptOnlyFromAmong(Table, Json);
        return option;
    }
}
