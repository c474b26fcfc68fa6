using System.Text.Json;
using Isola.Domain.Pci;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Host.IpLink;
using Isola.Host.Simulation;
using Xunit.Abstractions;

namespace Isola.Tests.Lab;

/// <summary>
/// Isola's Linux driver on the real igb driver (the agent's own commands, through <c>isola host vf</c>),
/// and the simulated NIC held to what the real one does with the same commands.
/// </summary>
[Collection(LabHostFixture.Collection)]
public sealed class LabVfTests(LabHostFixture lab, ITestOutputHelper output) : IClassFixture<LabHostFixture>
{
    private async Task<string> PfAsync(int device) =>
        (await lab.RunAsync($"ls /sys/bus/pci/devices/{lab.Require().Devices[device].Address}/net")).Trim();

    private async Task<Dictionary<int, VfState>> ShowAsync(string pf) =>
        JsonSerializer.Deserialize<Dictionary<string, VfState>>(await lab.RunAsync($"{LabHostFixture.Isola} host vf show {pf} -f json"), IsolaJson.Options)!
            .ToDictionary(kv => int.Parse(kv.Key, System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value);

    [SkippableFact]
    public async Task The_agents_driver_sets_every_vf_setting_on_igb_reads_it_back_and_resets_it()
    {
        var pf = await PfAsync(0);
        var before = await ShowAsync(pf);

        await lab.RunAsync($"ip link set dev {pf} down; {LabHostFixture.Isola} host vf set {pf} 1 --mac FA:16:3E:AA:00:01 --vlan 100 --qos 3 --spoof-check off --trust on --max-tx-rate 100");
        var set = await ShowAsync(pf);
        var witness = await lab.RunAsync($"ip -d link show dev {pf}; cat /sys/class/net/{pf}/operstate");
        await lab.RunAsync($"{LabHostFixture.Isola} host vf reset {pf} 1");
        var reset = await ShowAsync(pf);
        output.WriteLine(witness);

        Assert.Equal(new VfState("fa:16:3e:aa:00:01", 100, 3, "802.1Q", SpoofCheck: false, Trust: true, VfLinkState.Auto, 100, 0), set[1]);
        // What the kernel itself prints of the VF, and the PF the driver brought up so that igb would take the rate.
        Assert.Contains("vf 1     link/ether fa:16:3e:aa:00:01 brd ff:ff:ff:ff:ff:ff, vlan 100, qos 3, tx rate 100 (Mbps), max_tx_rate 100Mbps, spoof checking off, link-state auto, trust on", witness, StringComparison.Ordinal);
        Assert.EndsWith("up", witness.Trim(), StringComparison.Ordinal);
        Assert.Equal(before, reset);
        Assert.Equal(VfState.Reset, reset[1]);
        Assert.All(set.Where(v => v.Key != 1), v => Assert.Equal(before[v.Key], v.Value));
    }

    [SkippableFact]
    public async Task A_setting_igb_refuses_is_the_drivers_error_reported_not_a_crash()
    {
        var pf = await PfAsync(0);

        var refused = await lab.Require().RunAsync($"{LabHostFixture.Isola} host vf set {pf} 2 --mac fa:16:3e:aa:00:02 --min-tx-rate 10", TimeSpan.FromMinutes(2));
        var state = await ShowAsync(pf);
        await lab.RunAsync($"{LabHostFixture.Isola} host vf reset {pf} 2");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"`ip link set dev {pf} vf 2 max_tx_rate 0 min_tx_rate 10` exited 2: RTNETLINK answers: Invalid argument", refused.Output, StringComparison.Ordinal);
        // One concern per command: what came before the refused one holds, and the agent's next cycle tries again.
        Assert.Equal("fa:16:3e:aa:00:02", state[2].Mac);
    }

    /// <summary>One step of a scenario: an ip command, or waiting for the PF's link to come up (real links take a moment).</summary>
    private sealed record Step(string[] Argv, bool AwaitLink = false);

    private static List<Step> Scenario(string pf) =>
    [
        new(["ip", "link", "set", "dev", pf, "down"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "mac", "fa:16:3e:bb:00:03"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "vlan", "200", "qos", "5", "proto", "802.1Q"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "vlan", "200", "qos", "5", "proto", "802.1ad"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "spoofchk", "off"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "trust", "on"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "state", "enable"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "max_tx_rate", "100", "min_tx_rate", "0"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "min_tx_rate", "10"]),
        new(["ip", "link", "set", "dev", pf, "up"], AwaitLink: true),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "max_tx_rate", "100", "min_tx_rate", "0"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "max_tx_rate", "2000", "min_tx_rate", "0"]),
        new(["ip", "link", "set", "dev", pf, "vf", "3", "vlan", "0"]),
        new(["ip", "link", "set", "dev", pf, "vf", "9", "mac", "fa:16:3e:bb:00:09"]),
        new(["ip", "link", "set", "dev", pf, "down"]),
    ];

    [SkippableFact]
    public async Task The_simulated_nic_answers_a_scenario_as_the_real_igb_does()
    {
        var pf = await PfAsync(1);
        var json = await lab.RunAsync($"{LabHostFixture.Isola} host discover --root / -f json");
        var topology = InventoryDocument.TryRead(json, out _)!.Host;
        var steps = Scenario(pf);
        var script = string.Join('\n', steps.Select(s =>
            $"err=$({string.Join(' ', s.Argv)} 2>&1); echo \"$?|$err\"" +
            (s.AwaitLink ? $"\nfor i in $(seq 300); do [ \"$(cat /sys/class/net/{pf}/operstate)\" = up ] && break; sleep 0.1; done" : "")))
            + $"\necho '---'\nip -d -j link show dev {pf}";

        var real = (await lab.RunAsync(script)).Split("---\n");
        var nic = new SimulatedNic(topology);
        var simulated = steps.Select(s => nic.Set(s.Argv[3..])).Select(r => $"{r.ExitCode}|{r.StandardError.Trim()}").ToList();

        var realOutcomes = real[0].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < steps.Count; i++)
            output.WriteLine($"{string.Join(' ', steps[i].Argv)}: real {realOutcomes[i]}, simulated {simulated[i]}");
        Assert.Equal(realOutcomes, simulated);
        Assert.Equal(IpLinkParser.ParseVfStates(real[1], pf), IpLinkParser.ParseVfStates(nic.Show(pf).StandardOutput, pf));
        Assert.False(nic.IsUp(pf));
        await lab.RunAsync($"{LabHostFixture.Isola} host vf reset {pf} 3");
    }
}
