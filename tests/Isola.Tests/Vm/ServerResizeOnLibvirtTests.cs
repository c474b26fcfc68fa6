using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Isola.Tests.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>
/// A resize and its revert on this machine's libvirtd and QEMU, through the real API and a real agent: a server with a
/// dedicated vCPU is resized to two shared ones and a bigger disk — its domain defined again while shut off, its QEMU's
/// vCPU and emulator threads on the new plan's CPUs, its disk grown and its data kept — and reverted: the old placement
/// back, its vCPU thread on the very pCPU it had.
/// </summary>
[Collection(LabHostFixture.Collection)]
public sealed class ServerResizeOnLibvirtTests(RealVmFixture vm, ITestOutputHelper output) : RealVmApiTest, IClassFixture<RealVmFixture>
{

    // At every boot: what the guest's disk holds and how big its root disk is.
    private const string UserData = """
        #!/bin/sh
        if [ -f /disk/marker ]; then echo "isola-guest: marker kept $(cat /disk/marker)"; else echo "first" > /disk/marker; sync; echo "isola-guest: marker written"; fi
        echo "isola-guest: vda $(cat /sys/block/vda/size) sectors, $(grep -c ^processor /proc/cpuinfo) cpus"
        """;

    [SkippableFact]
    public async Task A_resize_runs_the_guest_on_the_new_flavors_cpus_and_disk_and_a_revert_puts_it_back_on_its_old_pcpu()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        await Admin.Post("/v1/projects", new { name = "p" });
        await Admin.Post("/v1/flavors", new { name = "pinned", vcpus = 1, ram = 256, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        await Admin.Post("/v1/flavors", new { name = "wide", vcpus = 2, ram = 320, disk = 2 });
        await RealHostAgent.UploadImageAsync(Admin, "guest", "p", vm.Image);
        await using var host = await RealHostAgent.StartAsync(Server, Admin, vm.Dir.Path, "resize", output);
        string? id = null;
        try
        {
            var (created, server) = await Admin.Post("/v1/servers", new
            {
                name = "grow", flavor = "pinned", image = "guest", project = "p", userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(UserData)),
            });
            Assert.True(created == 201, server.ToString());
            id = server.Str("id");
            var console = host.ConsoleLog(id);
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "vda 2097152 sectors, 1 cpus", 1);
            var pinned = await PinsAsync(host, id);
            output.WriteLine($"pinned: {pinned}");
            Assert.Single(pinned.Vcpus);

            await ActAsync(id, new { resize = new { flavorRef = "wide" } });
            await UntilAsync(id, "VERIFY_RESIZE");
            // A new QEMU from the domain defined again: two vCPUs on the new plan's CPUs, the disk grown to 2 GiB, its data kept.
            await ConsoleAsync(console, "vda 4194304 sectors, 2 cpus", 1);
            await ConsoleAsync(console, "marker kept first", 1);
            var wide = await PinsAsync(host, id);
            output.WriteLine($"wide: {wide}");
            Assert.Equal(2, wide.Vcpus.Count);
            Assert.NotEqual(pinned.Vcpus[0], wide.Vcpus[0]);

            await ActAsync(id, new Dictionary<string, object?> { ["revertResize"] = null });
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "marker kept first", 2);
            await ConsoleAsync(console, "1 cpus", 2);
            var back = await PinsAsync(host, id);
            output.WriteLine($"reverted: {back}");
            Assert.Equal(pinned, back);
            Assert.Equal("pinned", (await Admin.Get($"/v1/servers/{id}")).Body.Str("flavor"));

            Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
            await Eventually.UntilAsync(async () => !(await LibvirtDaemon.VirshAsync("list", "--all", "--name")).StandardOutput.Contains("isola-" + id, StringComparison.Ordinal),
                "the domain undefined");
            await Eventually.UntilAsync(() => !Directory.Exists(Path.Join(host.Instances, "isola-" + id)), "the instance directory removed");
        }
        finally
        {
            if (id is not null)
            {
                await LibvirtDaemon.VirshAsync("destroy", "isola-" + id);
                await LibvirtDaemon.VirshAsync("undefine", "isola-" + id);
            }
        }
    }

    /// <summary>What the QEMU threads run on — each vCPU thread's and the emulator's CPUs — checked against the server's plan.</summary>
    private sealed record Pins(List<string> Vcpus, string Emulator)
    {
        public bool Equals(Pins? other) => other is not null && Vcpus.SequenceEqual(other.Vcpus) && Emulator == other.Emulator;

        public override int GetHashCode() => Emulator.GetHashCode(StringComparison.Ordinal);

        public override string ToString() => $"vcpus [{string.Join(' ', Vcpus)}], emulator {Emulator}";
    }

    private async Task<Pins> PinsAsync(RealHostAgent host, string id)
    {
        var plan = (await Admin.Get($"/v1/servers/{id}/plan")).Body;
        var xml = XDocument.Parse(plan.Str("domainXml"));
        var count = int.Parse(xml.Descendants("vcpu").Single().Value, System.Globalization.CultureInfo.InvariantCulture);
        var floating = xml.Descendants("vcpu").Single().Attribute("cpuset")?.Value;
        var pinned = xml.Descendants("vcpupin").ToDictionary(p => int.Parse(p.Attribute("vcpu")!.Value, System.Globalization.CultureInfo.InvariantCulture), p => p.Attribute("cpuset")!.Value);
        var expected = new Pins([.. Enumerable.Range(0, count).Select(v => Canonical(pinned.GetValueOrDefault(v) ?? floating!))],
            Canonical(xml.Descendants("emulatorpin").Single().Attribute("cpuset")!.Value));
        // The threads of a QEMU that is up: each vCPU thread is there once the guest booted.
        var pid = host.Driver.QemuPid("isola-" + id) ?? throw new InvalidOperationException("no QEMU pid");
        var threads = Directory.GetDirectories($"/proc/{pid}/task").Select(d => (Tid: int.Parse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture),
            Name: File.ReadAllText(Path.Join(d, "comm")).Trim(),
            Cpus: File.ReadLines(Path.Join(d, "status")).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim())).ToList();
        var vcpus = threads.Where(t => Regex.IsMatch(t.Name, @"^CPU \d+/(TCG|KVM)$")).OrderBy(t => int.Parse(t.Name[4..t.Name.IndexOf('/')], System.Globalization.CultureInfo.InvariantCulture))
            .Select(t => Canonical(t.Cpus)).ToList();
        var actual = new Pins(vcpus, Canonical(threads.Single(t => t.Tid == pid).Cpus));
        Assert.Equal(expected, actual);
        return actual;
    }

    private static string Canonical(string cpus) => Isola.Domain.Cpu.CpuSet.Parse(cpus).ToString();
}
