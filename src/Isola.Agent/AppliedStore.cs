using System.Text.Json;
using Isola.Agent.Reconcile;
using Isola.Domain.Serialization;

namespace Isola.Agent;

/// <summary>What the agent put on the host, one JSON file per server under its state directory, written before it acts.</summary>
public sealed class AppliedStore(string stateDirectory)
{
    private string Dir => Path.Join(stateDirectory, "servers");

    public IReadOnlyDictionary<string, AppliedServer> Load()
    {
        if (!Directory.Exists(Dir))
            return new Dictionary<string, AppliedServer>();
        return Directory.EnumerateFiles(Dir, "*.json")
            .Select(f => JsonSerializer.Deserialize<AppliedServer>(File.ReadAllText(f), IsolaJson.Options)!)
            .ToDictionary(a => a.Id, StringComparer.Ordinal);
    }

    public void Save(AppliedServer server)
    {
        Directory.CreateDirectory(Dir);
        var file = Path.Join(Dir, server.Id + ".json");
        File.WriteAllText(file + ".tmp", JsonSerializer.Serialize(server, IsolaJson.Options));
        File.Move(file + ".tmp", file, overwrite: true);
    }

    public void Forget(string id) => File.Delete(Path.Join(Dir, id + ".json"));
}
