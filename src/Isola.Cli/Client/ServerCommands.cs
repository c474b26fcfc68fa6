using System.CommandLine;
using System.Text.Json.Nodes;
using Isola.Cli.Planning;

namespace Isola.Cli.Client;

/// <summary><c>isola server create|list|show|delete</c>: /v1/servers, and its actions (<see cref="ServerActionCommands"/>). (<c>isola serve</c> runs the API itself.)</summary>
internal static class ServerCommands
{
    /// <summary>The image a server boots from, by name (its id when it has none to show; "-" for a blank disk).</summary>
    private static readonly Column Image = Column.Of("image", e => Column.TextAt(e, "image", "name") ?? Column.TextAt(e, "image", "id"));

    private static readonly Column[] ListColumns = [Column.Of("id"), Column.Of("name"), Column.Of("status"), Column.Of("host"), Image, ServerView.Vfs];

    private static readonly Column[] Fields =
        [Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("status"), Column.Of("taskState"), Column.Of("powerState"), Column.Of("vmState"),
         Column.Of("fault"), Column.Of("flavor"), Image,
         Column.Of("sshKeys", e => Column.Property(e, "sshKeys") is { ValueKind: System.Text.Json.JsonValueKind.Array } keys && keys.GetArrayLength() > 0
             ? string.Join(", ", keys.EnumerateArray().Select(k => $"{Column.TextAt(k, "fingerprint")}{(Column.TextAt(k, "comment") is { } c ? " " + c : "")}"))
             : null),
         Column.Of("ports", e => Column.Text(Column.Property(e, "ports")) is null ? null
             : string.Join(", ", Column.Property(e, "ports").EnumerateArray().Select(p => Column.TextAt(p, "name")))),
         Column.Of("group"), Column.Of("host"), Column.Of("hostStatus"), .. ServerView.PlacementColumns];

    private static readonly Column[] GroupColumns = [Column.Of("id"), Column.Of("name"), Column.Of("policy"), Column.Of("members")];

    public static Command Create(CliConsole console)
    {
        var group = new Command("server", "Servers (VMs): placed, claimed and their ports bound, through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "servers", "server", ListColumns, filters:
        [
            new("--host", "host", "Only servers on this host"), new("--status", "status", "Only servers in this status (BUILD, ACTIVE, SHUTOFF, ...)"),
            new("--project", "project", "Only this project's servers (name or id; admins)"), new("--name", "name", "Only servers whose name holds this text"),
            new("--image", "image", "Only servers booted from this image (name or id)"), new("--flavor", "flavor", "Only servers built with this flavor (name or id)"),
        ]));
        group.Subcommands.Add(ResourceVerbs.Show(console, "servers", "server", Fields, ServerView.Details));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "servers", "server"));
        group.Subcommands.Add(GroupCommands(console));
        foreach (var action in ServerActionCommands.Create(console))
            group.Subcommands.Add(action);
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The server's name" };
        var flavor = new Option<string>("--flavor") { Description = "The flavor's name or id", Required = true };
        var ports = new Option<string[]>("--port") { Description = "A port's name or id (repeatable, in guest NIC order)" };
        var zone = new Option<string?>("--availability-zone") { Description = "Only hosts of this zone" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var nics = new Option<string[]>("--nic")
        {
            Description = "A NIC whose port the server makes (and deletes with itself): net=NETWORK[,vnic-type=direct][,ha][,ip-address=IP] (repeatable, after the --port ones)",
        };
        var serverGroup = new Option<string?>("--group") { Description = "A server group (name or id) whose policy the placement keeps" };
        var image = new Option<string?>("--image") { Description = "The image (name or id) it boots from; without one, a blank root disk" };
        var userData = new Option<string?>("--user-data") { Description = "A file whose content is the guest's user-data (a cloud-config, a script); sent base64" };
        var keyFiles = new Option<string[]>("--key-file") { Description = "A file of OpenSSH public keys, one per line, for the guest (repeatable; e.g. ~/.ssh/id_ed25519.pub)" };
        var verb = ClientCommand.Create("create", "Create a server: place it on a host and bind its ports", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { flavor, image, userData, keyFiles, ports, nics, zone, project, serverGroup })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var networks = new JsonArray();
            foreach (var nic in parse.GetValue(nics) ?? [])
                networks.Add(Nic(nic));
            var body = new JsonObject
            {
                ["networks"] = networks,
                ["name"] = parse.GetValue(name),
                ["flavor"] = parse.GetValue(flavor),
                ["ports"] = new JsonArray((parse.GetValue(ports) ?? []).Select(p => (JsonNode?)p).ToArray()),
            }.With("availabilityZone", parse.GetValue(zone)).With("project", parse.GetValue(project)).With("group", parse.GetValue(serverGroup))
                .With("image", parse.GetValue(image));
            if (parse.GetValue(userData) is { } dataFile)
                body["userData"] = Convert.ToBase64String(ReadFile("--user-data", dataFile));
            var keys = (parse.GetValue(keyFiles) ?? []).SelectMany(f => KeyLines(f, System.Text.Encoding.UTF8.GetString(ReadFile("--key-file", f)))).ToList();
            if (keys.Count > 0)
                body["sshKeys"] = new JsonArray(keys.Select(k => (JsonNode?)k).ToArray());
            var created = output.Show(await api.PostAsync("/v1/servers", body, ct));
            if (output.IsTable)
                ServerView.Details(console, created);
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    internal static byte[] ReadFile(string option, string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{option}: cannot read {path}: {e.Message}");
        }
    }

    /// <summary>The keys of a key file: each line that is not blank or a # comment (as in authorized_keys); a file with none is refused.</summary>
    internal static IReadOnlyList<string> KeyLines(string path, string text)
    {
        var keys = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        return keys.Count > 0 ? keys : throw new ArgumentException($"--key-file: {path} holds no key (one OpenSSH public key per line)");
    }

    /// <summary>"net=lan,vnic-type=direct,ha,ip-address=10.0.0.5" as the API's NIC object.</summary>
    internal static JsonObject Nic(string text)
    {
        var nic = new JsonObject();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (key, value) = part.IndexOf('=') is var i and >= 0 ? (part[..i], part[(i + 1)..]) : (part, "");
            switch (key)
            {
                case "net" or "network":
                    nic["network"] = value;
                    break;
                case "vnic-type":
                    nic["vnicType"] = value;
                    break;
                case "ha":
                    nic["ha"] = value is "" or "true";
                    break;
                case "ip-address":
                    nic["fixedIps"] = new JsonArray(new JsonObject { ["ipAddress"] = value });
                    break;
                default:
                    throw new ArgumentException($"--nic: '{key}' is not net, vnic-type, ha or ip-address");
            }
        }
        if (nic["network"] is null)
            throw new ArgumentException("--nic: net=NETWORK is required");
        return nic;
    }

    /// <summary><c>isola server group create --policy anti-affinity NAME</c>, list, show, delete: /v1/server-groups.</summary>
    private static Command GroupCommands(CliConsole console)
    {
        var group = new Command("group", "Server groups: affinity, anti-affinity, soft-affinity, soft-anti-affinity");
        var name = new Argument<string>("name") { Description = "The group's name" };
        var policy = new Option<string>("--policy") { Description = "affinity, anti-affinity, soft-affinity or soft-anti-affinity", Required = true };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var create = ClientCommand.Create("create", "Create a server group", console, GroupColumns);
        create.Command.Arguments.Add(name);
        create.Command.Options.Add(policy);
        create.Command.Options.Add(project);
        create.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["policy"] = parse.GetValue(policy) }.With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/server-groups", body, ct));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(create.Command);
        group.Subcommands.Add(ResourceVerbs.List(console, "server-groups", "server group", GroupColumns, filters: ListFlag.Name("server group")));
        group.Subcommands.Add(ResourceVerbs.Show(console, "server-groups", "server group", GroupColumns));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "server-groups", "server group"));
        return group;
    }
}
