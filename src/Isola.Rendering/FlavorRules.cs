using Isola.Rendering.Libvirt;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>
/// The rules a flavor must keep for its host plan to be made: Nova's <c>hw:</c> extra specs
/// (<see cref="ExtraSpecs"/>) and the <c>quota:</c> ones the domain XML takes (<see cref="Quotas"/>).
/// One set, used by the API when a flavor is created and by the host planner when it renders one,
/// so no flavor the API takes is refused by every host. Fields are named as the API names them
/// (<c>vcpus</c>, <c>ram</c>, <c>extraSpecs.KEY</c>), after a prefix (<c>""</c> for the API,
/// <c>"flavor."</c> for a plan).
/// </summary>
public static class FlavorRules
{
    public static IReadOnlyList<RequestError> Check(Flavor flavor, string fieldPrefix = "")
    {
        var errors = new List<RequestError>();
        try
        {
            ExtraSpecs.Parse(flavor);
        }
        catch (RequestValidationException e)
        {
            errors.AddRange(e.Errors.Select(x => x with { Field = fieldPrefix + (x.Field is "vcpus" or "ram" ? x.Field : ExtraSpecPrefix + x.Field) }));
        }
        // The same readers that write <iotune> and <bandwidth>; only their errors are wanted here.
        Quotas.IoTune(flavor, errors, fieldPrefix + ExtraSpecPrefix);
        Quotas.Bandwidth(flavor, errors, fieldPrefix + ExtraSpecPrefix);
        return errors;
    }

    /// <summary>Where a flavor's extra specs are, in the API's names.</summary>
    internal const string ExtraSpecPrefix = "extraSpecs.";
}
