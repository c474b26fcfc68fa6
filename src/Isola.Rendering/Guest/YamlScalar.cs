using System.Globalization;
using System.Text;

namespace Isola.Rendering.Guest;

/// <summary>The YAML the guest's cloud-init files are written in.</summary>
internal static class YamlScalar
{
    /// <summary>
    /// A value (checked addresses, a MAC, a hostname, a key) as a YAML double-quoted scalar: whatever it
    /// holds stays one value (a quote, a backslash or a line break cannot end it and start more YAML).
    /// </summary>
    public static string Quoted(string value)
    {
        var sb = new StringBuilder("\"", value.Length + 2);
        foreach (var c in value)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                _ when char.IsControl(c) => sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => sb.Append(c),
            };
        }
        return sb.Append('"').ToString();
    }
}
