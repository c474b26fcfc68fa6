using Isola.Contracts.Agent;
using Isola.Rendering;
using Isola.Rendering.Isolation;
using Isola.Rendering.Vf;

namespace Isola.Tests.Agent;

/// <summary>Desired states as the agent reads them off the wire, with only what a test cares about filled in.</summary>
internal static class Wire
{
    /// <summary>
    /// A host plan with the parts the agent applies; the guest's side (NICs, network config, advice) empty. Without
    /// <paramref name="irqs"/> or <paramref name="isolation"/> it reads as the JSON of a controller that sends neither.
    /// </summary>
    public static HostPlan Plan(string domain, string uuid, string xml, IReadOnlyList<VfSettings> vfs, IrqAffinityPlan? irqs = null,
        HostIsolation? isolation = null) =>
        new(domain, "h1", uuid, xml, vfs, irqs!, isolation!, [], [], "");

    public static DesiredServer Server(string id, string name, string status, string power, IReadOnlyList<DesiredPort> ports, HostPlan? plan,
        string? planStamp = null, string? planError = null) =>
        new(id, name, "p", status, null, power, null, ports, planStamp, plan, planError);

    public static DesiredHost Host(string host, long revision, IReadOnlyList<DesiredServer> servers) => new(host, revision, 0, servers);
}
