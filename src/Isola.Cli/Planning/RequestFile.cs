using System.Globalization;
using Isola.Domain.Pci;
using Isola.Rendering;
using Isola.Scheduling.Requests;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Isola.Cli.Planning;

/// <summary>
/// The requests file of <c>isola plan</c> (YAML or JSON): flavors, server groups, and servers that
/// use them, in the order they are placed. docs/formats.md has the schema.
/// </summary>
internal sealed class RequestFile
{
    public List<FlavorEntry> Flavors { get; set; } = [];
    public List<GroupEntry> Groups { get; set; } = [];
    public List<ServerEntry> Servers { get; set; } = [];

    internal sealed class FlavorEntry
    {
        public string Name { get; set; } = "";
        public int Vcpus { get; set; }
        /// <summary>MiB.</summary>
        public long Ram { get; set; }
        public int Disk { get; set; }
        public Dictionary<string, string> ExtraSpecs { get; set; } = [];
    }

    internal sealed class GroupEntry
    {
        public string Name { get; set; } = "";
        /// <summary>affinity, anti-affinity, soft-affinity, soft-anti-affinity.</summary>
        public string Policy { get; set; } = "";
    }

    internal sealed class ServerEntry
    {
        /// <summary>With {n} for the 1-based number when count > 1 (default: name-n).</summary>
        public string Name { get; set; } = "";
        public int Count { get; set; } = 1;
        public string Flavor { get; set; } = "";
        public List<PortEntry> Ports { get; set; } = [];
        public string? Group { get; set; }
        public string? AvailabilityZone { get; set; }
        public List<string> Aggregates { get; set; } = [];
        public string Strategy { get; set; } = "spread";
    }

    internal sealed class PortEntry
    {
        public string Name { get; set; } = "";
        /// <summary>normal, direct, direct-physical, macvtap, vdpa.</summary>
        public string VnicType { get; set; } = "normal";
        public string? Physnet { get; set; }
        public bool Ha { get; set; }
        /// <summary>The HA legs must be on two adapters (no fallback to one card's two ports).</summary>
        public bool HaDistinctAdapters { get; set; }
        public string? Mac { get; set; }
        // What the host plan needs beyond placement.
        public int? Vlan { get; set; }
        public int VlanQos { get; set; }
        public string VlanProtocol { get; set; } = "802.1Q";
        public bool SpoofCheck { get; set; } = true;
        public bool Trust { get; set; }
        /// <summary>auto, enable, disable.</summary>
        public string LinkState { get; set; } = "auto";
        public int MaxTxRateMbps { get; set; }
        public int MinTxRateMbps { get; set; }
        /// <summary>active-backup, balance-rr, balance-xor.</summary>
        public string BondMode { get; set; } = "active-backup";
        public List<int>? IrqVcpus { get; set; }
        public int? Queues { get; set; }
        public int Mtu { get; set; } = 1500;
        public List<string>? Addresses { get; set; }
        public string? Gateway { get; set; }
        public List<string>? DnsServers { get; set; }
        public string? VdpaDevice { get; set; }
        public string? PortId { get; set; }
    }

    /// <summary>A server of the file: its placement request, and the flavor and ports its host plan needs.</summary>
    internal sealed record Server(PlacementRequest Request, Flavor Flavor, IReadOnlyList<PortSpec> Ports);

    private static readonly IDeserializer Yaml = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build();

    public static RequestFile Load(string path)
    {
        try
        {
            return Yaml.Deserialize<RequestFile>(File.ReadAllText(path)) ?? new RequestFile();
        }
        catch (YamlException e)
        {
            throw new ArgumentException($"{path}: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
        }
    }

    public static GroupPolicy ParsePolicy(string text, string field) =>
        GroupPolicies.TryParse(text) ?? throw new ArgumentException($"{field}: '{text}' is not {GroupPolicies.Names}");

    /// <summary>A vnic type by its wire name (<see cref="VnicKind.Parse"/>, the API's parser); a request file may name any kind, vdpa too.</summary>
    public static VnicType ParseVnicType(string text, string field) =>
        VnicKind.Parse(text)?.Type ?? throw new ArgumentException($"{field}: '{text}' is not {VnicKind.Names(VnicKind.All)}");

    public Flavor Flavor(string name, string field)
    {
        var f = Flavors.FirstOrDefault(x => x.Name == name)
                ?? throw new ArgumentException($"{field}: flavor '{name}' is not in the file's flavors ({string.Join(", ", Flavors.Select(x => x.Name))})");
        return new Flavor(f.Name, f.Vcpus, f.Ram, f.Disk, f.ExtraSpecs);
    }

    /// <summary>Every server as a validated request, in file order. Errors name the server and field.</summary>
    public IEnumerable<Server> Requests(MacAllocator macs)
    {
        for (var s = 0; s < Servers.Count; s++)
        {
            var entry = Servers[s];
            var field = $"servers[{s}]";
            var flavor = Flavor(entry.Flavor, $"{field}.flavor");
            var strategy = entry.Strategy switch
            {
                "spread" => Strategy.Spread,
                "pack" => Strategy.Pack,
                _ => throw new ArgumentException($"{field}.strategy: '{entry.Strategy}' is not spread or pack"),
            };
            if (entry.Count is < 1 or > 1_000_000)
                throw new ArgumentException($"{field}.count: must be 1-1000000");
            for (var n = 1; n <= entry.Count; n++)
            {
                var name = entry.Name.Contains("{n}", StringComparison.Ordinal)
                    ? entry.Name.Replace("{n}", n.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                    : entry.Count > 1 ? $"{entry.Name}-{n}" : entry.Name;
                var specs = entry.Ports.Select((p, i) => Spec(p, $"{field}.ports[{i}]", i, macs)).ToList();
                var ports = specs.Select(p => p.ToRequest()).ToList();
                PlacementRequest request;
                try
                {
                    request = PlacementRequest.Create(name, flavor, ports, entry.Group, entry.AvailabilityZone,
                        entry.Aggregates.Count > 0 ? entry.Aggregates : null, strategy);
                }
                catch (RequestValidationException e)
                {
                    throw new ArgumentException($"{field} ({name}): " + string.Join("; ", e.Errors));
                }
                yield return new Server(request, flavor, specs);
            }
        }
    }

    private static PortSpec Spec(PortEntry p, string field, int index, MacAllocator macs) => new(
        p.Name.Length > 0 ? p.Name : $"port{index}",
        ParseVnicType(p.VnicType, $"{field}.vnicType"),
        p.Mac ?? macs.Next(),
        p.Ha,
        p.Physnet,
        p.Vlan,
        p.VlanQos,
        p.VlanProtocol,
        p.SpoofCheck,
        p.Trust,
        p.LinkState switch
        {
            "auto" => VfLinkState.Auto,
            "enable" => VfLinkState.Enable,
            "disable" => VfLinkState.Disable,
            _ => throw new ArgumentException($"{field}.linkState: '{p.LinkState}' is not auto, enable or disable"),
        },
        p.MaxTxRateMbps,
        p.MinTxRateMbps,
        p.BondMode switch
        {
            "active-backup" => BondMode.ActiveBackup,
            "balance-rr" => BondMode.BalanceRr,
            "balance-xor" => BondMode.BalanceXor,
            _ => throw new ArgumentException($"{field}.bondMode: '{p.BondMode}' is not active-backup, balance-rr or balance-xor"),
        },
        p.IrqVcpus,
        p.Queues,
        "br-int",
        p.PortId,
        p.Mtu,
        p.Addresses,
        p.Gateway,
        p.DnsServers,
        p.VdpaDevice,
        p.HaDistinctAdapters);
}
