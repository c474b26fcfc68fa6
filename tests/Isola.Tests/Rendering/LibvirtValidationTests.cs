using System.Text.RegularExpressions;
using Isola.Host.Commands;
using Isola.Rendering;
using Isola.Tests.Support;

namespace Isola.Tests.Rendering;

/// <summary>
/// Every rendered domain goes through the real libvirt 9: the RNG schema (virt-xml-validate) and the
/// test driver (define --validate, start, then vcpupin/emulatorpin/numatune read back, and the
/// domain libvirt stored, from dumpxml). The test driver reports affinity only for CPUs 0-7, so
/// vcpupin is checked there and every pin through dumpxml.
/// </summary>
public partial class LibvirtValidationTests
{
    private static readonly ProcessCommandRunner Run = new(TimeSpan.FromSeconds(60));

    public static TheoryData<string> Cases() => new(RenderCases.Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Libvirt_accepts_the_domain_and_reports_the_pinning_back(string name)
    {
        var input = RenderCases.Input(name);
        var plan = HostPlanner.Render(input);
        using var dir = new TempDir();
        var file = dir.Sub("domain.xml");
        File.WriteAllText(file, plan.DomainXml);

        var schema = await Run.RunAsync(["virt-xml-validate", file, "domain"]);
        Assert.True(schema.Succeeded, schema.StandardOutput + schema.StandardError);

        var server = input.Placement.Server;
        var virsh = await Run.RunAsync(["virsh", "-c", "test:///default",
            $"define --validate {file}; start {server}; vcpupin {server}; emulatorpin {server}; numatune {server}; dumpxml {server}"]);
        Assert.True(virsh.Succeeded, virsh.StandardOutput + virsh.StandardError);
        Assert.Contains($"Domain '{server}' started", virsh.StandardOutput, StringComparison.Ordinal);

        // vcpupin lists "vcpu  cpulist" per vCPU; dumpxml has libvirt's own <vcpupin>s.
        var reported = VcpuLine().Matches(virsh.StandardOutput).ToDictionary(m => int.Parse(m.Groups[1].Value), m => m.Groups[2].Value.Trim());
        var stored = StoredPin().Matches(virsh.StandardOutput).ToDictionary(m => int.Parse(m.Groups[1].Value), m => m.Groups[2].Value);
        foreach (var pin in (input.Placement.Cells ?? []).SelectMany(c => c.Pins))
        {
            Assert.Equal(pin.Pcpu.ToString(), stored[pin.Vcpu]);
            if (pin.Pcpu < 8)
                Assert.Equal(pin.Pcpu.ToString(), reported[pin.Vcpu]);
        }
        if (input.Placement.EmulatorPins is [var emulator])
            Assert.Contains($"<emulatorpin cpuset='{emulator}'/>", virsh.StandardOutput, StringComparison.Ordinal);
        if (input.Placement.Cells is { } cells)
            Assert.Matches($@"numa_nodeset\s+: {Isola.Domain.Cpu.CpuSet.Of(cells.Select(c => c.HostCell))}", virsh.StandardOutput);
    }

    [GeneratedRegex(@"^\s*(\d+)\s+([\d,\-]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex VcpuLine();

    [GeneratedRegex(@"<vcpupin vcpu='(\d+)' cpuset='([\d,\-]+)'/>")]
    private static partial Regex StoredPin();
}
