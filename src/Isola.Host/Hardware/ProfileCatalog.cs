using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Isola.Host.Hardware;

/// <summary>The built-in hardware profiles (embedded YAML) and the YAML reader for profile files.</summary>
public static class ProfileCatalog
{
    private const string ResourcePrefix = "profiles/";

    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    private static readonly Lazy<IReadOnlyList<HardwareProfile>> BuiltInProfiles = new(LoadBuiltIn);

    public static IReadOnlyList<HardwareProfile> BuiltIn => BuiltInProfiles.Value;

    /// <summary>A built-in profile by name, or a YAML file by path.</summary>
    public static HardwareProfile Get(string nameOrPath)
    {
        var builtIn = BuiltIn.FirstOrDefault(p => p.Name == nameOrPath);
        if (builtIn is not null)
            return builtIn;
        if (File.Exists(nameOrPath))
            return Parse(File.ReadAllText(nameOrPath), nameOrPath);
        throw new ArgumentException($"profile: '{nameOrPath}' is neither a built-in profile ({string.Join(", ", BuiltIn.Select(p => p.Name))}) nor a YAML file");
    }

    public static HardwareProfile Parse(string yaml, string source)
    {
        try
        {
            var profile = Yaml.Deserialize<HardwareProfile>(yaml) ?? throw new ArgumentException($"profile {source}: the file is empty");
            if (profile.Name.Length == 0)
                profile.Name = Path.GetFileNameWithoutExtension(source);
            return profile;
        }
        catch (YamlException e)
        {
            throw new ArgumentException($"profile {source}: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
        }
    }

    private static IReadOnlyList<HardwareProfile> LoadBuiltIn()
    {
        var assembly = Assembly.GetExecutingAssembly();
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream);
                return Parse(reader.ReadToEnd(), n);
            })
            .ToList();
    }
}
