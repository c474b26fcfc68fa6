using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Isola.Host.Commands;
using Isola.Rendering.Flows;
using Isola.Tests.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>
/// Two servers on virtio ports of one VXLAN network, on this machine's libvirtd and QEMU, through the real API
/// and a real agent with its Open vSwitch part (the host's switch at OVS's default run directory, where libvirt's
/// own ovs-vsctl plugs the taps; the userspace datapath, as this kernel has no OVS module; virtio without
/// vhost-net, as there is no /dev/vhost-net): each guest configures the address its config drive gives it and
/// pings the other; removing a security group rule blocks exactly the traffic it allowed (real guest ICMP), and
/// adding it again lets it through; every QEMU thread carries the plan's pins (taskset); after delete nothing of
/// either server is left on the host — domain, QEMU, disk, config drive, tap, OVS port, flow or file.
/// </summary>
[Collection(LabHostFixture.Collection)] // TCG guests take the cores, as the lab hosts do: not beside them
public sealed partial class VxlanGuestsOnLibvirtTests(RealVmFixture vm, ITestOutputHelper output) : RealVmApiTest(withOvs: true, vm.Unavailable), IClassFixture<RealVmFixture>
{
    /// <summary>Each guest says which IPv4 addresses it has, then pings its peer every second, forever, one console line per ping.</summary>
    private const string UserData = """
        #!/bin/sh
        echo "isola-guest: ipv4 $(ip -o -4 addr show | awk '$2 != "lo" { printf "%s %s ", $2, $4 }')"
        ( n=0; while true; do n=$((n+1)); if ping -c 1 -W 2 PEER >/dev/null 2>&1; then r=ok; else r=fail; fi; echo "isola-guest: ping PEER $n $r"; sleep 1; done ) &
        """;

    private sealed record Guest(string Name, string Ip, string Group, string Flavor)
    {
        public string PortId { get; set; } = "";
        public string Mac { get; set; } = "";
        public string ServerId { get; set; } = "";
        public string Domain => "isola-" + ServerId;
        public string Tap => TapNames.Of(PortId);
    }

    [SkippableFact]
    public async Task Two_guests_on_a_vxlan_network_get_their_addresses_ping_each_other_obey_a_security_group_carry_their_pins_and_leave_nothing()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        Skip.If(OvsUnavailable is not null, OvsUnavailable);
        var clock = Stopwatch.StartNew();
        var steps = new List<string>();
        void Step(string what) => steps.Add($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

        // The tenant's network: a VXLAN network with a subnet, a security group per guest (egress anything; ingress ICMP).
        await Admin.Post("/v1/projects", new { name = "p" });
        // A's vCPU is dedicated (pinned to the host's one dedicated CPU, its emulator there too); B's floats on the reserved CPU.
        // A has two vCPUs: vCPU 1 dedicated (pinned to the host's one dedicated CPU), vCPU 0 and the emulator on the reserved CPU.
        await Created(Admin.Post("/v1/flavors", new
        {
            name = "pinned", vcpus = 2, ram = 256, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "mixed", ["hw:cpu_dedicated_mask"] = "1" },
        }));
        await Created(Admin.Post("/v1/flavors", new { name = "tiny", vcpus = 1, ram = 256, disk = 1 }));
        await RealHostAgent.UploadImageAsync(Admin, "guest", "p", vm.Image);
        var network = await Created(Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" }));
        Assert.Equal("vxlan", network.Str("type"));
        var subnet = await Created(Admin.Post("/v1/subnets", new { name = "overlay-v4", network = "overlay", cidr = "10.20.0.0/24", project = "p" }));
        var a = new Guest("vm-a", "10.20.0.11", "sg-a", "pinned");
        var b = new Guest("vm-b", "10.20.0.12", "sg-b", "tiny");
        var (icmpIntoB, groupB) = ("", "");
        foreach (var g in new[] { a, b })
        {
            var group = (await Created(Admin.Post("/v1/security-groups", new { name = g.Group, project = "p" }))).Str("id");
            await Created(Admin.Post("/v1/security-group-rules", new { securityGroup = group, direction = "egress", ethertype = "IPv4" }));
            var icmp = (await Created(Admin.Post("/v1/security-group-rules", new { securityGroup = group, direction = "ingress", ethertype = "IPv4", protocol = "icmp" }))).Str("id");
            if (g == b)
                (icmpIntoB, groupB) = (icmp, group);
            var port = await Created(Admin.Post("/v1/ports", new
            {
                name = g.Name + "-port", network = "overlay", vnicType = "normal", project = "p",
                // A's queues (two: one per vCPU) both handled by its pinned vCPU 1; virtio-net on its own would put queue 0 on CPU 0.
                irqVcpus = g == a ? new[] { 1 } : null,
                fixedIps = new[] { new { subnet = subnet.Str("id"), ipAddress = g.Ip } }, securityGroups = new[] { group },
            }));
            g.PortId = port.Str("id");
            g.Mac = port.Str("mac");
        }

        // The agent, as `isola agent --ovs-datapath netdev` runs it: the server's facets (not the host-wide ones, which
        // would rewrite this machine's irqbalance and systemd files) and Open vSwitch.
        await using var host = await RealHostAgent.StartAsync(Server, Admin, vm.Dir.Path, "vxlan", output, ovs: true);
        var (instances, state, driver) = (host.Instances, host.State, host.Driver);
        var guests = new[] { a, b };
        var consoles = new Dictionary<Guest, string>();
        try
        {
            // Both servers at once: the two TCG guests boot side by side.
            foreach (var (g, peer) in new[] { (a, b), (b, a) })
            {
                var (status, server) = await Admin.Post("/v1/servers", new
                {
                    name = g.Name, flavor = g.Flavor, image = "guest", project = "p", ports = new[] { g.PortId },
                    userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(UserData.Replace("PEER", peer.Ip, StringComparison.Ordinal))),
                });
                Assert.True(status == 201, server.ToString());
                g.ServerId = server.Str("id");
            }
            foreach (var g in guests)
                await UntilActiveAsync(g.ServerId);
            Step("both servers ACTIVE (ports ACTIVE: taps on br-int with their flows)");

            // Each guest configured what its config drive says: its address on its NIC (the NIC named by the network config).
            var console = guests.ToDictionary(g => g, g => Path.Join(instances, g.Domain, "console.log"));
            foreach (var g in guests)
            {
                var text = await ConsoleAsync(console[g], $"ipv4 ", "its addresses");
                Assert.Contains($"isola-guest: ready instance-id={g.ServerId} hostname={g.Name}", text, StringComparison.Ordinal);
                Assert.Matches($@"isola-guest: nic \S+ {Regex.Escape(g.Mac)} mtu 1450 addresses {Regex.Escape(g.Ip)}/24", text);
                Assert.Matches($@"isola-guest: ipv4 \S+ {Regex.Escape(g.Ip)}/24", text);
            }
            Step("each guest has the address (and the VXLAN MTU) from its config drive");

            // The guest's end of interrupt steering: the pinned guest ran Isola's script from its drive, which put its
            // NIC's (0000:01:00.0, the layout's first bus) queue vectors on the vCPU its plan names, and the kernel says so;
            // the shared guest has nothing pinned and no map. (No vhost-net here: QEMU's main loop serves the queue, on the emulator pin checked below.)
            var pinnedConsole = File.ReadAllText(console[a]);
            output.WriteLine(string.Join('\n', pinnedConsole.Split('\n').Where(l => l.Contains("irq", StringComparison.Ordinal))));
            foreach (var vq in new[] { "input.0", "output.0", "input.1", "output.1" })
            {
                Assert.Matches($@"isola-guest: isola-irq: 0000:01:00\.0 irq \d+ virtio\d+-{Regex.Escape(vq)} \(queue \d\) on vCPU 1", pinnedConsole);
                // The kernel took the affinity; on x86 a vector whose last move is not cleaned up yet moves at its next
                // interrupt (a pending move: effective_affinity_list says where it fires until then).
                Assert.Matches($@"isola-guest: irq 0000:01:00\.0 \d+ virtio\d+-{Regex.Escape(vq)} smp_affinity_list=1 effective=[01]$", pinnedConsole.Replace("\r", "", StringComparison.Ordinal).Split('\n').First(l => l.Contains($"-{vq} smp", StringComparison.Ordinal)));
            }
            // The config vector (misc) on the guest's vCPU 0.
            Assert.Matches(@"isola-guest: irq 0000:01:00\.0 \d+ virtio\d+-config smp_affinity_list=0", pinnedConsole);
            Assert.DoesNotContain("isola-irq", File.ReadAllText(console[b]), StringComparison.Ordinal);
            Step("the pinned guest's queue vectors on the vCPU its plan names, not virtio-net's own choice (its /proc/irq), from the config drive's map");

            // Each pings the other (ARP answered by the flows' responder, ICMP through both guests' security groups).
            foreach (var (g, peer) in new[] { (a, b), (b, a) })
                await PingsAsync(console[g], peer.Ip, after: 0, ok: true, count: 3);
            Step("each guest pings the other");

            // The rule that lets ICMP into B goes: A's pings to B are dropped (B's own pings to A, answered through conntrack, still pass).
            var (markA, markB) = (Pings(Read(console[a]), b.Ip).Count, Pings(Read(console[b]), a.Ip).Count);
            Assert.Equal(204, (await Admin.Delete($"/v1/security-group-rules/{icmpIntoB}")).Status);
            var blocked = await PingsAsync(console[a], b.Ip, after: markA + 1, ok: false, count: 4);
            var meanwhile = Pings(Read(console[b]), a.Ip).Skip(markB + 1).ToList();
            output.WriteLine($"after the rule went: a -> b {string.Join(' ', blocked.Select(p => p.Ok ? "ok" : "fail"))}; b -> a {string.Join(' ', meanwhile.Select(p => p.Ok ? "ok" : "fail"))}");
            Assert.True(meanwhile.Count(p => p.Ok) >= 3, $"b -> a while a -> b was blocked: {string.Join(' ', meanwhile.Select(p => p.Ok ? "ok" : "fail"))}");
            Assert.DoesNotContain(meanwhile, p => !p.Ok);
            Step("ICMP into B's security group removed: a -> b dropped, b -> a still answered");

            // The rule again: A's pings get through again.
            markA = Pings(Read(console[a]), b.Ip).Count;
            await Created(Admin.Post("/v1/security-group-rules", new { securityGroup = groupB, direction = "ingress", ethertype = "IPv4", protocol = "icmp" }));
            await PingsAsync(console[a], b.Ip, after: markA, ok: true, count: 3);
            Step("the rule again: a -> b answered");

            // The console as the API serves it shows the same.
            var served = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{a.ServerId}/console-log")).Body.Str("output"),
                text => text.Contains($"ping {b.Ip}", StringComparison.Ordinal), "a's console log through the API");
            Assert.Contains($"addresses {a.Ip}/24", served, StringComparison.Ordinal);

            // Every QEMU thread on the plan's pins: the vCPU threads on their vcpupin (or the vCPUs' cpuset), all others on the emulator pin.
            foreach (var g in guests)
            {
                var xml = XDocument.Parse((await Admin.Get($"/v1/servers/{g.ServerId}/plan")).Body.Str("domainXml"));
                var pinned = xml.Descendants("vcpupin").ToDictionary(p => int.Parse(p.Attribute("vcpu")!.Value, CultureInfo.InvariantCulture), p => Cpus(p.Attribute("cpuset")!.Value));
                var floating = xml.Descendants("vcpu").Single().Attribute("cpuset")?.Value;
                var emulator = Cpus(xml.Descendants("emulatorpin").Single().Attribute("cpuset")!.Value);
                // Virtio served by QEMU's own threads where the host has no vhost-net (as here), by vhost-net where it has.
                Assert.Equal(File.Exists("/dev/vhost-net") ? "vhost" : "qemu", xml.Descendants("interface").Single().Element("driver")!.Attribute("name")!.Value);
                var pid = driver.QemuPid(g.Domain) ?? throw new InvalidOperationException($"no QEMU pid for {g.Domain}");
                var threads = await ThreadsAsync(pid);
                output.WriteLine($"{g.Name} (QEMU {pid}): vcpupin {string.Join(',', pinned.Select(p => $"{p.Key}:{p.Value}"))} vcpu cpuset {floating ?? "-"} emulatorpin {emulator}\n  "
                    + string.Join("\n  ", threads.Select(t => $"{t.Tid} {t.Name}: {t.Cpus}")));
                var vcpus = threads.Where(t => VcpuThread().IsMatch(t.Name)).ToList();
                Assert.Equal(g == a ? 2 : 1, vcpus.Count); // a thread per vCPU (multi-threaded TCG)
                foreach (var t in vcpus)
                {
                    var index = int.Parse(VcpuThread().Match(t.Name).Groups[1].Value, CultureInfo.InvariantCulture);
                    Assert.Equal(pinned.GetValueOrDefault(index) ?? Cpus(floating!), t.Cpus);
                }
                foreach (var t in threads.Where(t => !VcpuThread().IsMatch(t.Name)))
                    Assert.True(t.Cpus.Equals(emulator), $"{g.Name}: emulator thread {t.Tid} ({t.Name}) on {t.Cpus}, the plan pins {emulator}");
                // Without vhost-net QEMU's main loop (an emulator thread) serves the virtio queues: for a, on the pCPU of
                // vCPU 1, the vCPU that handles both of its queues in the guest (both ends of each queue on one core).
                if (g == a && !File.Exists("/dev/vhost-net"))
                    Assert.Equal(pinned[1], emulator);
            }
            Step("every vCPU thread and emulator thread on the plan's CPUs (taskset -pc)");

            // Before delete: what the servers have on the host, for the checks after.
            var ports = await OvsAsync("list-ports", "br-int");
            var flows = await OfctlAsync("dump-flows", "br-int");
            foreach (var g in guests)
            {
                Assert.Contains(g.Tap, ports, StringComparison.Ordinal);
                Assert.Contains(g.Mac, flows, StringComparison.OrdinalIgnoreCase);
                Assert.Contains(Interface(g.Tap), await IpLinksAsync());
                Assert.True(File.Exists(Path.Join(instances, g.Domain, "disk.qcow2")) && File.Exists(Path.Join(instances, g.Domain, "config.iso")));
                Assert.NotEmpty(Traces(g, instances, state));
            }
            var pids = guests.ToDictionary(g => g, g => driver.QemuPid(g.Domain)!.Value);
            foreach (var g in guests)
                consoles[g] = Read(console[g]); // for the output: the files go with the servers

            foreach (var g in guests)
                Assert.Equal(204, (await Admin.Delete($"/v1/servers/{g.ServerId}")).Status);
            foreach (var g in guests)
            {
                await Eventually.UntilAsync(async () => !(await Virsh("list", "--all", "--name")).Contains(g.Domain, StringComparison.Ordinal), $"{g.Domain} undefined");
                await Eventually.UntilAsync(() => !Alive(pids[g]), $"{g.Name}'s QEMU ({pids[g]}) gone");
                await Eventually.UntilAsync(() => !Directory.Exists(Path.Join(instances, g.Domain)), $"{g.Name}'s instance directory (disk, config drive, console log) removed");
            }
            await Eventually.UntilAsync(async () => (await OfctlAsync("dump-flows", "br-int")) is var f && guests.All(g => !f.Contains(g.Mac, StringComparison.OrdinalIgnoreCase)),
                "the servers' flows gone");
            Step("deleted: domains undefined, QEMUs gone, instance directories removed, flows gone");

            // Listed: nothing of either server on the host.
            var virsh = await Virsh("list", "--all", "--name");
            var qemus = Process.GetProcesses().Select(p => (p.Id, Cmdline(p.Id))).Where(p => guests.Any(g => p.Item2.Contains(g.ServerId, StringComparison.Ordinal))).ToList();
            var links = await IpLinksAsync();
            var ovsPorts = await OvsAsync("list-ports", "br-int");
            var ovsInterfaces = await OvsAsync("--columns=name,external_ids", "list", "Interface");
            var left = await OfctlAsync("dump-flows", "br-int");
            // The agent flushed the connections of the addresses that left (the zone may still hold others).
            var conntrack = await Eventually.UntilAsync(async () => (await Ovs.Runner.RunAsync(["ovs-appctl", "dpctl/dump-conntrack"])).StandardOutput,
                text => guests.All(g => !text.Contains($"={g.Ip},", StringComparison.Ordinal)), "no connection of either server's address in conntrack");
            output.WriteLine($"after delete:\nvirsh list --all: [{virsh.Trim()}]\nbr-int ports: [{ovsPorts.Trim()}]\nconntrack: [{conntrack.Trim()}]\nflows:\n{left}");
            foreach (var g in guests)
            {
                Assert.DoesNotContain(g.Domain, virsh, StringComparison.Ordinal);
                Assert.Empty(qemus);
                Assert.DoesNotContain(Interface(g.Tap), links);
                Assert.DoesNotContain(g.Tap, ovsPorts, StringComparison.Ordinal);
                Assert.DoesNotContain(g.PortId, ovsInterfaces, StringComparison.Ordinal);
                Assert.DoesNotContain(g.Mac, left, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain(g.Ip + ",", left, StringComparison.Ordinal);
                Assert.DoesNotContain(g.Ip + " ", left, StringComparison.Ordinal);
            }
            // libvirt's log of each domain goes in the agent's sweep after the take-down (and again should QEMU's end write it anew).
            await Eventually.UntilAsync(() => Task.FromResult(string.Join(", ", guests.SelectMany(g => Traces(g, instances, state)))), t => t.Length == 0,
                "no file of either server on the host");
            await Eventually.UntilAsync(() => driver.Storage.CachedImages().Count == 0, "the cached image pruned");
            Step("listed after delete: no domain, QEMU process, tap, OVS port or interface, flow, or file of either server");
            // Every agent cycle went through: a failed command (a flush OVS refused, a console log sent for a server just gone) is a bug to see.
            Assert.True(host.Failures.Count == 0, "agent cycles failed:\n" + string.Join('\n', host.Failures));
        }
        finally
        {
            foreach (var line in steps)
                output.WriteLine(line);
            foreach (var g in guests.Where(g => g.ServerId != ""))
            {
                var text = (consoles.GetValueOrDefault(g) ?? Read(Path.Join(instances, g.Domain, "console.log"))).Replace("\r", "", StringComparison.Ordinal).Split('\n');
                // The guest's own lines (its ping lines only at the end: they go on every second).
                output.WriteLine($"---- {g.Name}'s console (isola-guest lines):\n" + string.Join('\n', text.Where(l => l.Contains("isola-guest:", StringComparison.Ordinal)
                    && !l.Contains("isola-guest: ping ", StringComparison.Ordinal))) + "\n...\n" + string.Join('\n', text.Where(l => l.Contains("isola-guest: ping ", StringComparison.Ordinal)).TakeLast(8)));
            }
            await host.DisposeAsync();
            foreach (var g in guests.Where(g => g.ServerId != ""))
            {
                await LibvirtDaemon.VirshAsync("destroy", g.Domain);
                await LibvirtDaemon.VirshAsync("undefine", g.Domain);
            }
        }
    }

    private static async Task<JsonElement> Created(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        Assert.True(status == 201, body.ToString());
        return body;
    }

    private async Task UntilActiveAsync(string id)
    {
        var server = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}")).Body, s =>
            (s.Str("status") == "ACTIVE" && s.GetProperty("taskState").ValueKind == JsonValueKind.Null) || s.Str("status") == "ERROR", "server ACTIVE",
            TimeSpan.FromMinutes(5));
        Assert.True(server.Str("status") == "ACTIVE", server.ToString());
    }

    private static string Read(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static Task<string> ConsoleAsync(string path, string line, string what) =>
        Eventually.UntilAsync(() => Task.FromResult(Read(path)), text => text.Contains("isola-guest: " + line, StringComparison.Ordinal), $"{what} on {path}",
            TimeSpan.FromMinutes(5));

    private sealed record Ping(int N, bool Ok);

    /// <summary>The guest's pings of <paramref name="peer"/> in the order it made them (its console's <c>ping PEER N ok|fail</c> lines).</summary>
    private static List<Ping> Pings(string console, string peer) =>
        console.Split('\n').Select(l => PingLine().Match(l.TrimEnd('\r'))).Where(m => m.Success && m.Groups[1].Value == peer)
            .Select(m => new Ping(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value == "ok")).ToList();

    /// <summary>
    /// Waits until the guest's pings after its first <paramref name="after"/> end in <paramref name="count"/> in a row that
    /// were answered (or not, <paramref name="ok"/>); answers those pings after the mark.
    /// </summary>
    private static Task<List<Ping>> PingsAsync(string console, string peer, int after, bool ok, int count) =>
        Eventually.UntilAsync(() => Task.FromResult(Pings(Read(console), peer).Skip(after).ToList()),
            pings => pings.Count >= count && pings.TakeLast(count).All(p => p.Ok == ok),
            $"{count} pings of {peer} in a row {(ok ? "answered" : "unanswered")} after ping {after} on {console}", TimeSpan.FromMinutes(4));

    private sealed record ThreadCpus(int Tid, string Name, Isola.Domain.Cpu.CpuSet Cpus);

    /// <summary>Every thread of the QEMU process with its affinity as <c>taskset -pc TID</c> says it.</summary>
    private static async Task<List<ThreadCpus>> ThreadsAsync(int pid)
    {
        var threads = new List<ThreadCpus>();
        foreach (var dir in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            var tid = Path.GetFileName(dir);
            var result = await new ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync(["taskset", "-pc", tid]);
            Assert.True(result.Succeeded, result.Describe(["taskset", "-pc", tid]));
            // "pid 1234's current affinity list: 0,1"
            var list = result.StandardOutput.Trim()[(result.StandardOutput.Trim().LastIndexOf(':') + 1)..].Trim();
            threads.Add(new ThreadCpus(int.Parse(tid, CultureInfo.InvariantCulture), File.ReadAllText(Path.Join(dir, "comm")).Trim(), Cpus(list)));
        }
        return threads;
    }

    private static Isola.Domain.Cpu.CpuSet Cpus(string text) => Isola.Domain.Cpu.CpuSet.Parse(text);

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z";

    private static string Cmdline(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static async Task<string> Virsh(params string[] args) => (await LibvirtDaemon.VirshAsync(args)).StandardOutput;

    private async Task<string> OvsAsync(params string[] args) => await Ovs.Vsctl(args);

    private async Task<string> OfctlAsync(params string[] args) => await Ovs.Ofctl(args);

    /// <summary>The host's network interfaces by name (<c>ip -o link</c>).</summary>
    private static async Task<List<string>> IpLinksAsync()
    {
        var result = await new ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync(["ip", "-o", "link", "show"]);
        Assert.True(result.Succeeded, result.StandardError);
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Interface(l.Split(':')[1].Trim().Split('@')[0])).ToList();
    }

    private static string Interface(string name) => "if:" + name;

    /// <summary>
    /// Every file or directory on the host that names the server (its id, its domain, its port's id or tap): the instances
    /// directory, the agent's state, libvirt's configuration, run, state, cache and log directories, Open vSwitch's run directory.
    /// </summary>
    private static List<string> Traces(Guest g, string instances, string state)
    {
        string[] roots = [instances, state, "/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", OvsSwitch.DefaultRunDirectory];
        var names = new[] { g.ServerId, g.PortId, g.Tap };
        var contents = names.Append(g.Mac).ToList(); // a flow table the agent keeps names the MAC
        var found = new List<string>();
        foreach (var root in roots.Where(Directory.Exists))
        {
            foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 }))
            {
                if (names.Any(n => Path.GetFileName(path).Contains(n, StringComparison.Ordinal)))
                    found.Add(path);
                else if (path.StartsWith(state, StringComparison.Ordinal) && File.Exists(path) && new FileInfo(path).Length < 1 << 20
                         && File.ReadAllText(path) is var content && contents.Any(n => content.Contains(n, StringComparison.OrdinalIgnoreCase)))
                    found.Add(path + " (names it)");
            }
        }
        return found;
    }

    [GeneratedRegex(@"isola-guest: ping (\S+) (\d+) (ok|fail)$")]
    private static partial Regex PingLine();

    [GeneratedRegex(@"^CPU (\d+)/(TCG|KVM)$")]
    private static partial Regex VcpuThread();
}
