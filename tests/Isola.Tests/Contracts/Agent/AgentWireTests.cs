using System.Text.Json;
using Isola.Contracts.Agent;
using Isola.Domain.Serialization;
using Isola.Rendering;
using Isola.Server.Hosts;
using Isola.Store.Documents;
using Isola.Store.Lifecycle;
using Isola.Tests.Rendering;
using Isola.Tests.Rendering.Flows;

namespace Isola.Tests.Contracts.Agent;

/// <summary>
/// The agent's wire contract has one home, and its JSON is byte for byte what the anonymous objects
/// the server and the agent wrote before gave: the same field names, order, nulls and nesting. The
/// anonymous shapes here are copies of what the code held before the records.
/// </summary>
public sealed class AgentWireTests
{
    /// <summary>The server's options: ASP.NET's web defaults with Isola's converters (IsolaServer).</summary>
    private static readonly JsonSerializerOptions Server = ServerOptions();

    private static JsonSerializerOptions ServerOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        foreach (var converter in IsolaJson.Options.Converters)
            o.Converters.Add(converter);
        return o;
    }

    private static HostPlan Rendered(string name, string domain) => HostPlanner.Render(RenderCases.Input(name) with { DomainName = domain });

    // The documents are passed through, never read, on the way to the wire: what they hold does not matter here.
    private static readonly StoredDocument<Isola.Scheduling.Placement> Placed = StoredDocument<Isola.Scheduling.Placement>.FromColumn("{}");
    private static readonly StoredDocument<ServerSpec> Asked = StoredDocument<ServerSpec>.FromColumn("{}");

    /// <summary>Three servers: one with its plan, one whose plan was omitted (stamp only), one without a spec (no stamp, no plan); ports on two of them.</summary>
    private static (HostDesired Rows, Dictionary<string, AgentEndpoints.PlanOutcome> Rendered) Rows()
    {
        var servers = new List<Isola.Store.Lifecycle.AssignedServerRow>
        {
            new("s1", "proj-1", "vm1", "BUILD", "spawning", "paused", null, Placed, Asked),
            new("s2", "proj-1", "vm2", "ACTIVE", null, "running", "running", Placed, Asked, PlanVersion: 2),
            new("s4", "proj-1", "vm4", "REBOOT", "reboot_pending", "shutoff", "running", Placed, Asked, CleanShutdown: true),
            new("s3", "proj-2", "vm3", "SHUTOFF", null, "shutoff", "shutoff", Placed, null),
            new("s5", "proj-2", "vm5", "RESIZE", "resize_migrating", "shutoff", "shutoff", Placed, Asked, Move: new("mig-1", Source: true, DiskSent: false)),
            new("s6", "proj-2", "vm6", "RESIZE", "resize_finish", "running", null, Placed, Asked, PlanVersion: 1, Move: new("mig-2", Source: false, DiskSent: true)),
        };
        var ports = new List<Isola.Store.Lifecycle.AssignedPortRow>
        {
            new("p1", "ext", "s1", "fa:16:3e:00:00:01", "BOUND"),
            new("p2", "int", "s1", "fa:16:3e:00:00:02", "DOWN"),
            new("p3", "ext", "s2", "fa:16:3e:00:00:03", "ACTIVE"),
        };
        var rows = new HostDesired("h1", 7, 6, "2025-01-01T00:00:00Z", servers, ports, "stamp-1");
        return (rows, new Dictionary<string, AgentEndpoints.PlanOutcome>(StringComparer.Ordinal) { ["s1"] = new(Rendered("ha-active-backup", "isola-s1")) });
    }

    /// <summary>The desired state as AgentEndpoints wrote it before the records (and since: each server's shutdown, its plan stamp with its plan version, its migration).</summary>
    private static object Before(HostDesired desired, Isola.Rendering.Flows.HostNetworkState network, Dictionary<string, AgentEndpoints.PlanOutcome> rendered)
    {
        var ports = desired.Ports.ToLookup(p => p.ServerId);
        return new
        {
            desired.Host,
            desired.Revision,
            desired.AppliedRevision,
            servers = desired.Servers.Where(s => rendered.GetValueOrDefault(s.Id) is not { Released: true }).Select(s => new
            {
                s.Id,
                s.Name,
                project = s.ProjectId,
                s.Status,
                s.TaskState,
                s.PowerState,
                s.VmState,
                ports = ports[s.Id].Select(p => new { p.Id, p.Name, p.Mac, p.Status }),
                planStamp = s.Spec is null ? null : s.PlanVersion == 0 ? desired.InventoryStamp : desired.InventoryStamp + "+v" + s.PlanVersion,
                plan = rendered.GetValueOrDefault(s.Id)?.Plan,
                planError = rendered.GetValueOrDefault(s.Id)?.Error,
                shutdown = s.CleanShutdown ? "clean" : "hard",
                migration = s.Move is null ? null : new { id = s.Move.MigrationId, role = s.Move.Source ? "source" : "destination", diskSent = s.Move.DiskSent },
            }),
            network,
        };
    }

    [Fact]
    public void The_desired_state_is_written_as_before()
    {
        var (rows, rendered) = Rows();
        foreach (var network in new[] { FlowScenarios.State(FlowScenarios.A1), Isola.Rendering.Flows.HostNetworkState.Empty })
        {
            // As made; s2 failed in BUILD and was released (not listed); s2 kept what it holds, without a plan and with the reason.
            foreach (var s2 in new AgentEndpoints.PlanOutcome?[] { null, new(null, "gone", Released: true), new(null, "ports[0]: PF 0000:3b:00.0 is not a network PF") })
            {
                var outcomes = new Dictionary<string, AgentEndpoints.PlanOutcome>(rendered, StringComparer.Ordinal);
                if (s2 is not null)
                    outcomes["s2"] = s2;
                var before = JsonSerializer.Serialize(Before(rows, network, outcomes), Server);
                Assert.Equal(before, JsonSerializer.Serialize(AgentEndpoints.DesiredOf(rows, network, outcomes), Server));
            }
        }
    }

    [Fact]
    public void The_plans_answer_is_written_as_before()
    {
        var plan = Rendered("virtio-shared", "isola-s1");
        var before = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["s1"] = new { planStamp = "stamp-1", plan = (HostPlan?)plan, planError = (string?)null },
            ["s2"] = new { planStamp = "stamp-1", plan = (HostPlan?)null, planError = (string?)"no PF" },
        };
        var now = new Dictionary<string, ServerPlan>(StringComparer.Ordinal) { ["s1"] = new("stamp-1", plan), ["s2"] = new("stamp-1", null, "no PF") };
        Assert.Equal(JsonSerializer.Serialize(before, Server), JsonSerializer.Serialize(now, Server));
        // The agent reads both back.
        var read = JsonSerializer.Deserialize<Dictionary<string, ServerPlan>>(JsonSerializer.Serialize(now, Server), IsolaJson.Options)!;
        Assert.Equal((plan.DomainXml, "no PF"), (read["s1"].Plan!.DomainXml, read["s2"].PlanError));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_agent_reads_every_field_of_a_plan_the_server_writes(string name)
    {
        // Written by the server, read by the agent (its own options), written again: nothing lost, nothing added.
        var (rows, _) = Rows();
        var plan = Rendered(name, "isola-s1");
        var rendered = new Dictionary<string, AgentEndpoints.PlanOutcome>(StringComparer.Ordinal) { ["s1"] = new(plan), ["s2"] = new(null, "no PF") };
        var written = JsonSerializer.Serialize(AgentEndpoints.DesiredOf(rows, FlowScenarios.State(FlowScenarios.A1), rendered), Server);
        var read = JsonSerializer.Deserialize<DesiredHost>(written, IsolaJson.Options)!;
        Assert.Equal(written, JsonSerializer.Serialize(read, Server));
        Assert.Equal(plan.DomainXml, read.Servers[0].Plan!.DomainXml);
        Assert.Equal(plan.Vfs, read.Servers[0].Plan!.Vfs);
        Assert.Equal("no PF", read.Servers[1].PlanError);
    }

    public static TheoryData<string> Cases() => new(RenderCases.Names);

    [Fact]
    public void The_report_is_written_as_before()
    {
        var servers = new[] { ("s1", "paused", (int?)null), ("s2", "absent", (int?)3) };
        var ports = new[] { ("p1", "ACTIVE"), ("p2", "DOWN") };
        var before = new
        {
            appliedRevision = 7L,
            // Since rebuilds: the version of each server's disk, where the agent knows it.
            servers = servers.Select(s => new { id = s.Item1, vmState = s.Item2, diskVersion = s.Item3 }),
            ports = ports.Select(p => new { id = p.Item1, status = p.Item2 }),
            // Since evacuations: the servers it is still taking down.
            leaving = new[] { "s9" },
        };
        var now = new HostReport(7, servers.Select(s => new ReportedServer(s.Item1, s.Item2, s.Item3)).ToList(), ports.Select(p => new ReportedPort(p.Item1, p.Item2)).ToList(),
            ["s9"]);
        // The agent writes it with Isola's options, the server reads it with its own.
        Assert.Equal(JsonSerializer.Serialize(before, IsolaJson.Options), JsonSerializer.Serialize(now, IsolaJson.Options));
        var read = JsonSerializer.Deserialize<HostReport>(JsonSerializer.Serialize(now, IsolaJson.Options), Server)!;
        Assert.Equal(now.Servers, read.Servers);
        Assert.Equal(now.Leaving, read.Leaving);
    }

    [Fact]
    public void The_report_answer_is_written_as_before()
    {
        var before = new
        {
            revisionMoved = true,
            transitions = new[] { ("s1", "BUILD", "ACTIVE", (string?)null, "running") }
                .Select(t => new { server = t.Item1, from = t.Item2, Status = t.Item3, TaskState = t.Item4, PowerState = t.Item5 }),
        };
        var now = new ReportAnswer(true, [new ReportTransition("s1", "BUILD", "ACTIVE", null, "running")]);
        Assert.Equal(JsonSerializer.Serialize(before, Server), JsonSerializer.Serialize(now, Server));
    }
}
