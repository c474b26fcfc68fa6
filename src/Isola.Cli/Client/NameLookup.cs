using System.Text.Json;

namespace Isola.Cli.Client;

/// <summary>
/// Names for the ids an answer holds (a port's subnets, QoS policy, security groups), read from the
/// collections' lists for the table; an id whose name could not be read is shown as the id.
/// </summary>
internal sealed class NameLookup
{
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _loaded = new(StringComparer.Ordinal);

    public string Of(string id) => _names.GetValueOrDefault(id, id);

    /// <summary>Reads the names of /v1/COLLECTION once. A refusal (a token that may not list it) leaves the ids; an unreachable API stops the verb.</summary>
    public async Task LoadAsync(ApiClient api, string collection, CancellationToken ct)
    {
        if (!_loaded.Add(collection))
            return;
        try
        {
            using var doc = JsonDocument.Parse(await api.GetAsync($"/v1/{collection}", ct));
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (Column.TextAt(item, "id") is { } id && Column.TextAt(item, "name") is { } name)
                    _names[id] = name;
            }
        }
        catch (ApiCallException e) when (e.ExitCode != ExitCodes.Unavailable)
        {
        }
    }
}
