using System.Globalization;
using System.Xml.Linq;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Libvirt;

/// <summary>
/// Nova's storage and virtio QoS extra specs, as libvirt takes them: <c>quota:disk_*</c> become
/// <c>&lt;iotune&gt;</c> (bytes or I/O operations per second), <c>quota:vif_*</c> become
/// <c>&lt;bandwidth&gt;</c> (average and peak in KB/s, burst in KB). What a value breaks goes to the
/// errors, named by its key after <c>fieldPrefix</c>; <see cref="FlavorRules"/> runs the same readers at flavor create.
/// </summary>
internal static class Quotas
{
    private static readonly string[] DiskKeys =
        ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"];

    public static XElement? IoTune(Flavor flavor, List<RequestError> errors, string fieldPrefix)
    {
        var values = new List<XElement>();
        foreach (var key in DiskKeys)
        {
            if (Number(flavor, $"quota:disk_{key}", errors, fieldPrefix) is { } n)
                values.Add(new XElement(key, n));
        }
        foreach (var kind in new[] { "bytes", "iops" })
        {
            if (values.Any(v => v.Name == $"total_{kind}_sec") && values.Any(v => v.Name == $"read_{kind}_sec" || v.Name == $"write_{kind}_sec"))
                errors.Add(new RequestError($"{fieldPrefix}quota:disk_total_{kind}_sec", $"cannot be given with quota:disk_read_{kind}_sec or quota:disk_write_{kind}_sec (libvirt takes a total or a split, not both)"));
        }
        return values.Count == 0 ? null : new XElement("iotune", values);
    }

    public static XElement? Bandwidth(Flavor flavor, List<RequestError> errors, string fieldPrefix)
    {
        XElement? Direction(string name)
        {
            var average = Number(flavor, $"quota:vif_{name}_average", errors, fieldPrefix);
            var peak = Number(flavor, $"quota:vif_{name}_peak", errors, fieldPrefix);
            var burst = Number(flavor, $"quota:vif_{name}_burst", errors, fieldPrefix);
            if (average is null)
            {
                if (peak is not null || burst is not null)
                    errors.Add(new RequestError($"{fieldPrefix}quota:vif_{name}_average", "is needed when peak or burst is given"));
                return null;
            }
            var e = new XElement(name, new XAttribute("average", average));
            if (peak is not null)
                e.Add(new XAttribute("peak", peak));
            if (burst is not null)
                e.Add(new XAttribute("burst", burst));
            return e;
        }
        var inbound = Direction("inbound");
        var outbound = Direction("outbound");
        return inbound is null && outbound is null ? null : new XElement("bandwidth", inbound, outbound);
    }

    private static long? Number(Flavor flavor, string key, List<RequestError> errors, string fieldPrefix)
    {
        if (!flavor.ExtraSpecs.TryGetValue(key, out var text))
            return null;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
            return n;
        errors.Add(new RequestError(fieldPrefix + key, $"'{text}' is not a positive whole number"));
        return null;
    }
}
