using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola flavor create|list|show|delete</c>: /v1/flavors.</summary>
internal static class FlavorCommands
{
    private static readonly Column[] Fields =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("vcpus"), Column.Of("ram"), Column.Of("disk"),
        Column.Of("properties", Properties),
    ];

    public static Command Create(CliConsole console)
    {
        var group = new Command("flavor", "Flavors: vCPUs, RAM (MiB), disk (GiB) and extra specs, through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "flavors", "flavor", Fields, filters: ListFlag.Name("flavor")));
        group.Subcommands.Add(ResourceVerbs.Show(console, "flavors", "flavor", Fields));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "flavors", "flavor"));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The flavor's name" };
        var vcpus = new Option<int>("--vcpus") { Description = "vCPUs", Required = true };
        var ram = new Option<long>("--ram") { Description = "RAM in MiB", Required = true };
        var disk = new Option<int?>("--disk") { Description = "Root disk in GiB (default 0)" };
        var properties = new Option<string[]>("--property") { Description = "An extra spec KEY=VALUE, e.g. hw:cpu_policy=dedicated (repeatable)" };
        properties.Validators.Add(result =>
        {
            foreach (var bad in result.GetValueOrDefault<string[]>()?.Where(p => p.IndexOf('=', StringComparison.Ordinal) < 1) ?? [])
                result.AddError($"--property: '{bad}' is not KEY=VALUE");
        });
        var verb = ClientCommand.Create("create", "Create a flavor (admin)", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { vcpus, ram, disk, properties })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var specs = new JsonObject();
            foreach (var property in parse.GetValue(properties) ?? [])
            {
                var split = property.IndexOf('=', StringComparison.Ordinal);
                specs[property[..split]] = property[(split + 1)..];
            }
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name), ["vcpus"] = parse.GetValue(vcpus), ["ram"] = parse.GetValue(ram), ["extraSpecs"] = specs,
            }.With("disk", parse.GetValue(disk));
            output.Show(await api.PostAsync("/v1/flavors", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary>The extra specs as openstack shows them: <c>hw:cpu_policy='dedicated', hw:mem_page_size='1GB'</c>.</summary>
    private static string? Properties(JsonElement flavor) =>
        Column.Property(flavor, "extraSpecs") is { ValueKind: JsonValueKind.Object } specs
            ? string.Join(", ", specs.EnumerateObject().Select(p => $"{p.Name}='{Column.Text(p.Value)}'"))
            : null;
}
