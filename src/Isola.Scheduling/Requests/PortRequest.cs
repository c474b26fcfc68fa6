using Isola.Domain.Pci;

namespace Isola.Scheduling.Requests;

/// <summary>A port of the server, as placement sees it.</summary>
/// <param name="Ha">An HA bond: two VFs on two distinct PFs of the physnet, one MAC (direct only).</param>
/// <param name="Mac">The port's MAC; both VFs of an HA port carry it.</param>
/// <param name="Needs">What its VFs' PF driver must be able to do (<see cref="VfDriverCapabilities"/>); only VFs of such PFs are given.</param>
/// <param name="HaDistinctAdapters">An HA port whose two legs must be on two different adapters (never two ports of one card).
/// Without it, distinct adapters are preferred and one card's two ports taken when no such pair fits.</param>
public sealed record PortRequest(string Name, VnicType VnicType, string? Physnet, bool Ha, string Mac,
    VfNeeds Needs = VfNeeds.None, bool HaDistinctAdapters = false)
{
    /// <summary>What its vnic type is (<see cref="VnicKind"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public VnicKind Kind => VnicKind.Of(VnicType);

    public bool NeedsDevice => Kind.NeedsDevice;

    /// <summary>How many VFs the port takes (a direct-physical port takes a PF instead).</summary>
    public int VfCount => Kind.VfCount(Ha);

    public IEnumerable<RequestError> Validate(int index)
    {
        var field = $"ports[{index}]";
        if (NeedsDevice && string.IsNullOrEmpty(Physnet))
            yield return new RequestError($"{field}.physnet", $"a {VnicType.ToString().ToLowerInvariant()} port needs a physnet (SR-IOV ports live on flat or vlan networks)");
        if (Ha && !Kind.HaAllowed)
            yield return new RequestError($"{field}.ha", "an HA bond needs vnic type direct");
        if (HaDistinctAdapters && !Ha)
            yield return new RequestError($"{field}.haDistinctAdapters", "only an HA port has two legs to keep on distinct adapters");
        if (!System.Text.RegularExpressions.Regex.IsMatch(Mac, "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$") || (Convert.ToInt32(Mac[..2], 16) & 1) == 1)
            yield return new RequestError($"{field}.mac", $"'{Mac}' is not a unicast MAC aa:bb:cc:dd:ee:ff in lower case");
    }
}
