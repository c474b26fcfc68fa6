using System.Text.RegularExpressions;
using Isola.Server.Api;

namespace Isola.Server.Settings;

/// <summary>
/// Physical network names: at most 64 characters, as Neutron's provider extension allows, of letters,
/// digits, '.', '_' and '-' — they are written into agents' mappings ("physnet2:br-physnet2",
/// "physnet2:p2p1,physnet3:p3p1"), where ':' and ',' separate. A member names only physnets the
/// operator configured; an admin any well-formed one. The text matches today's rule for resource names
/// (<c>Api.Names</c>) and inventory hostnames (<c>InventoryRules</c>), for other reasons: each may
/// change alone (a hostname could grow to an FQDN's 253 characters; a physnet may not take ':' or ',').
/// </summary>
internal static partial class Physnets
{
    public const string Rule = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";

    public static bool IsName(string physnet) => NameRule().IsMatch(physnet);

    public static void Check(string physnet, IReadOnlySet<string>? configured, List<FieldError> errors)
    {
        if (!IsName(physnet))
            errors.Add(new("physnet", Rule));
        else if (configured is not null && !configured.Contains(physnet))
            errors.Add(new("physnet", configured.Count == 0
                ? "no physical network is configured for projects (the server's VLAN ranges and physnets); ask an admin"
                : $"not a configured physical network; configured: {string.Join(", ", configured.Order(StringComparer.Ordinal))}"));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NameRule();
}
