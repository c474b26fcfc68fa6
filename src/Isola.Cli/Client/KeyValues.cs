using System.CommandLine;

namespace Isola.Cli.Client;

/// <summary>Option values of the openstack client's form <c>KEY=VALUE,KEY=VALUE</c>: <c>--fixed-ip subnet=s1,ip-address=10.0.0.5</c>.</summary>
internal static class KeyValues
{
    /// <summary>The pairs of <paramref name="text"/>, or an error naming the option, a key it does not know, or one given twice.</summary>
    public static (Dictionary<string, string>? Values, string? Error) Parse(string option, string text, IReadOnlyCollection<string> keys)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(','))
        {
            var split = pair.IndexOf('=', StringComparison.Ordinal);
            if (split < 1)
                return (null, $"{option}: '{pair}' is not KEY=VALUE (keys: {string.Join(", ", keys)})");
            var key = pair[..split].Trim();
            if (!keys.Contains(key))
                return (null, $"{option}: no key '{key}'; the keys are {string.Join(", ", keys)}");
            var value = pair[(split + 1)..].Trim();
            if (value.Length == 0)
                return (null, $"{option}: '{key}' has no value in '{text}'");
            if (!values.TryAdd(key, value))
                return (null, $"{option}: '{key}' given twice in '{text}'");
        }
        return (values, null);
    }

    /// <summary>Checks each value of a repeatable option at parse time (exit 2 before any call); <paramref name="required"/> keys must be there.</summary>
    public static void Validate(Option<string[]> option, IReadOnlyCollection<string> keys, IReadOnlyCollection<string> required)
    {
        option.Validators.Add(result =>
        {
            foreach (var text in result.GetValueOrDefault<string[]>() ?? [])
            {
                var (values, error) = Parse(option.Name, text, keys);
                if (error is not null)
                    result.AddError(error);
                else if (required.Any(k => !values!.ContainsKey(k)))
                    result.AddError($"{option.Name}: '{text}' needs {string.Join(" and ", required.Select(k => k + "=..."))}");
            }
        });
    }
}
