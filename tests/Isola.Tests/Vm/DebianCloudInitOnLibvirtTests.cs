using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Lab.Guest;
using Isola.Tests.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>
/// The machine's libvirtd and a small Debian 12 guest with Debian's own cloud-init (<see cref="DebianImage"/>), built once
/// and kept between runs in a cache directory (<c>ISOLA_TEST_CACHE</c>, else <c>/var/cache/isola-tests</c>) under a hash
/// of what it is built from: a second run does not debootstrap again.
/// </summary>
public sealed class DebianGuestFixture : IAsyncLifetime
{
    public LibvirtDaemon Libvirt { get; } = new();

    public string Image { get; private set; } = "";

    /// <summary>How the image came to be (built, and in how long, or found in the cache).</summary>
    public List<string> Log { get; } = [];

    public string? Unavailable { get; private set; }

    public static string CacheDirectory => Environment.GetEnvironmentVariable("ISOLA_TEST_CACHE") is { Length: > 0 } dir ? dir : "/var/cache/isola-tests";

    public async Task InitializeAsync()
    {
        await Libvirt.InitializeAsync();
        Unavailable = Libvirt.Unavailable ?? DebianImage.Missing() ?? (File.Exists("/usr/bin/genisoimage") ? null : "genisoimage is missing (Debian: genisoimage)");
        if (Unavailable is not null)
            return;
        var clock = Stopwatch.StartNew();
        Image = await DebianImage.EnsureAsync(CacheDirectory, line => { lock (Log) Log.Add(line); });
        Log.Add($"image {Image} ready in {clock.Elapsed.TotalSeconds:0.0} s{(Log.Count == 0 ? " (cached)" : "")}");
    }

    public async Task DisposeAsync() => await Libvirt.DisposeAsync();
}

/// <summary>
/// Issue 15's end: a server booting Debian 12 with Debian's real cloud-init, on this machine's libvirtd and QEMU (TCG) through
/// the real API and a real agent (with its Open vSwitch part), on a port of a VXLAN network with a fixed address. Everything
/// is read from the guest's serial console as the API serves it: cloud-init took Isola's NoCloud drive as its data source
/// (the instance id), set the hostname from the meta-data, installed the server's SSH key in the default user's
/// authorized_keys, ran the user-data (a <c>#cloud-config</c> with <c>write_files</c> and <c>runcmd</c>), and applied the
/// version 2 network config (rendered for ifupdown: the NIC renamed as the config says, the port's address and the VXLAN
/// MTU on it). Deleted, the domain is gone.
/// </summary>
[Collection(LabHostFixture.Collection)] // a TCG guest takes a core, as the lab hosts do: not beside them
public sealed class DebianCloudInitOnLibvirtTests(DebianGuestFixture vm, ITestOutputHelper output) : RealVmApiTest(withOvs: true, vm.Unavailable), IClassFixture<DebianGuestFixture>
{
    /// <summary>A Debian boot under TCG, cloud-init's four stages in Python included, takes minutes.</summary>
    private static readonly TimeSpan Boot = TimeSpan.FromMinutes(10);

    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhbzYvbGAsWl3NXsQlMvsoUarxgJ0AAwCz3BZ9+UVL7 cloud-init-test@isola";

    /// <summary>cloud-config: a file written by write_files, and runcmd saying on the serial console what cloud-init made of the drive.</summary>
    private const string UserData = """
        #cloud-config
        write_files:
          - path: /run/isola-write-files
            content: "written by write_files\n"
        runcmd:
          - |
            {
              echo "isola-ci: instance-id $(cat /var/lib/cloud/data/instance-id)"
              echo "isola-ci: datasource $(cat /run/cloud-init/cloud-id 2>/dev/null) $(cloud-init query platform 2>/dev/null)"
              echo "isola-ci: hostname $(hostname)"
              for f in /home/debian/.ssh/authorized_keys /root/.ssh/authorized_keys; do [ -f $f ] && sed "s|^|isola-ci: key $f |" $f; done
              echo "isola-ci: write_files $(cat /run/isola-write-files)"
              ip -4 -o addr show | sed 's/^/isola-ci: ipv4 /'
              ip -o link show | sed 's/^/isola-ci: link /'
              ip -4 route show | sed 's/^/isola-ci: route /'
              sed 's/^/isola-ci: eni /' /etc/network/interfaces.d/50-cloud-init
              echo "isola-ci: per-boot $(ls /var/lib/cloud/scripts/per-boot/)"
              for i in $(ls /sys/bus/pci/devices/0000:01:00.0/msi_irqs); do echo "isola-ci: irq $(awk -v i="$i:" '$1 == i { print $NF }' /proc/interrupts) $(cat /proc/irq/$i/smp_affinity_list)"; done
              echo "isola-ci: runcmd done"
            } > /dev/ttyS0 2>&1
        """;

    [SkippableFact]
    public async Task Debians_cloud_init_reads_isolas_config_drive_hostname_ssh_key_user_data_and_network_config()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        Skip.If(OvsUnavailable is not null, OvsUnavailable);
        foreach (var line in vm.Log)
            output.WriteLine(line);
        var clock = Stopwatch.StartNew();
        var steps = new List<string>();
        void Step(string what) => steps.Add($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

        await Admin.Post("/v1/projects", new { name = "p" });
        // Debian with cloud-init wants more than the busybox guest's 256 MiB; its image is a 1-2 GiB disk.
        // Pinned: its plan steers its NIC's interrupts, so its drive carries the map, the script and the vendor-data that installs it.
        await Created(Admin.Post("/v1/flavors", new { name = "debian", vcpus = 1, ram = 768, disk = 3, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } }));
        await RealHostAgent.UploadImageAsync(Admin, "debian-12", "p", vm.Image);
        await Created(Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" }));
        var subnet = await Created(Admin.Post("/v1/subnets", new { name = "overlay-v4", network = "overlay", cidr = "10.30.0.0/24", project = "p" }));
        var port = await Created(Admin.Post("/v1/ports", new
        {
            name = "ci-port", network = "overlay", vnicType = "normal", project = "p",
            fixedIps = new[] { new { subnet = subnet.Str("id"), ipAddress = "10.30.0.7" } },
        }));
        Step("image uploaded, network, subnet and port made");

        await using var host = await RealHostAgent.StartAsync(Server, Admin, Dir.Path, "debian", output, ovs: true);
        string? id = null;
        var console = "";
        var passed = false;
        try
        {
            var (status, server) = await Admin.Post("/v1/servers", new
            {
                name = "Debian_CI.guest", flavor = "debian", image = "debian-12", project = "p", ports = new[] { port.Str("id") },
                sshKeys = new[] { Key }, userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(UserData)),
            });
            Assert.True(status == 201, server.ToString());
            id = server.Str("id");
            var active = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}")).Body,
                s => (s.Str("status") == "ACTIVE" && s.GetProperty("taskState").ValueKind == JsonValueKind.Null) || s.Str("status") == "ERROR", "server ACTIVE", Boot);
            Assert.True(active.Str("status") == "ACTIVE", active.ToString());
            Step("server ACTIVE");

            // The NIC's name and MAC as Isola's network config gives them.
            var network = (await Admin.Get($"/v1/servers/{id}/plan")).Body.GetProperty("configDrive").Str("networkConfig");
            output.WriteLine("network-config:\n" + network);
            var nic = Regex.Match(network, @"set-name: (\S+)").Groups[1].Value;
            Assert.NotEqual("", nic);

            // cloud-init's final stage ran the user-data's runcmd; the API serves what the guest wrote on its serial console.
            console = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}/console-log")).Body.Str("output").Replace("\r", "", StringComparison.Ordinal),
                text => text.Contains("isola-ci: runcmd done", StringComparison.Ordinal), "runcmd's lines on the console (GET console-log)", Boot);
            Step("runcmd's lines on the console");
            // A line of the script's may share the console line with what getty printed meanwhile ("debian-ci-guest login: isola-ci: ...").
            var lines = console.Split('\n').Select(l => l.IndexOf("isola-ci: ", StringComparison.Ordinal) is var at and >= 0 ? l[(at + "isola-ci: ".Length)..].TrimEnd() : null)
                .OfType<string>().ToList();

            // NoCloud, from Isola's drive: the instance id is the server's.
            Assert.Contains($"instance-id {id}", lines);
            Assert.Contains(lines, l => l.StartsWith("datasource nocloud", StringComparison.Ordinal));
            // The hostname from the meta-data's local-hostname (the server's name made a hostname).
            Assert.Contains("hostname debian-ci-guest", lines);
            // The server's SSH key in the default user's authorized_keys.
            Assert.Contains($"key /home/debian/.ssh/authorized_keys {Key}", lines);
            // Isola's vendor-data (a script, beside the user's cloud-config) installed the interrupt script to run at every boot,
            // and it ran: the NIC's queue vectors on the vCPU the plan names (the guest's only one here), its config vector on vCPU 0.
            Assert.Contains("per-boot isola-irq-affinity", lines);
            Assert.Matches(@"isola-irq: 0000:01:00\.0 irq \d+ virtio\d+-input\.0 \(queue 0\) on vCPU 0", console);
            Assert.Contains(lines, l => Regex.IsMatch(l, @"^irq virtio\d+-input\.0 0$"));
            // The user-data's cloud-config: write_files wrote its file (runcmd is running: it was read too).
            Assert.Contains("write_files written by write_files", lines);
            // The network config applied: the NIC named as it says, the port's fixed address on it, the VXLAN MTU.
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^ipv4 \d+: {Regex.Escape(nic)}\s+inet 10\.30\.0\.7/24 "));
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^link \d+: {Regex.Escape(nic)}: .* mtu 1450 ") && l.Contains(port.Str("mac"), StringComparison.OrdinalIgnoreCase));
            Assert.Contains(lines, l => l.StartsWith("eni ", StringComparison.Ordinal) && l.Contains("address 10.30.0.7/24", StringComparison.Ordinal));
            // Its default route, to the subnet's gateway.
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^route default via 10\.30\.0\.1 dev {Regex.Escape(nic)}\b"));
            // cloud-init went through all of its stages.
            console = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}/console-log")).Body.Str("output"),
                text => Regex.IsMatch(text, @"Cloud-init v\. \S+ finished"), "cloud-init's final message on the console", Boot);
            Step("cloud-init finished");
            // ... and every one of its stages and modules without a failure (a stage that fails on what Isola wrote says so here).
            Assert.DoesNotContain("failed run of stage", console, StringComparison.Ordinal);
            Assert.DoesNotContain("Traceback", console, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"Running module \S+ .* failed", console);
            Assert.True(File.Exists(host.ConsoleLog(id)));

            Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
            await Eventually.UntilAsync(async () => !(await LibvirtDaemon.VirshAsync("list", "--all", "--name")).StandardOutput.Contains("isola-" + id, StringComparison.Ordinal),
                "the domain undefined");
            await Eventually.UntilAsync(() => !Directory.Exists(Path.Join(host.Instances, "isola-" + id)), "the instance directory removed");
            Step("deleted: domain undefined, instance directory removed");
            passed = true;
        }
        finally
        {
            foreach (var line in steps)
                output.WriteLine(line);
            if (id is not null)
            {
                if (console.Length == 0 && File.Exists(host.ConsoleLog(id)))
                    console = await File.ReadAllTextAsync(host.ConsoleLog(id));
                // All of it when the test failed; else cloud-init's and the user-data's lines.
                var shown = passed ? console.Split('\n').Where(l => l.Contains("cloud-init", StringComparison.OrdinalIgnoreCase) || l.Contains("ci-info", StringComparison.Ordinal)
                    || l.StartsWith("isola-ci:", StringComparison.Ordinal)) : console.Split('\n');
                output.WriteLine("---- console:\n" + string.Join('\n', shown));
                await LibvirtDaemon.VirshAsync("destroy", "isola-" + id);
                await LibvirtDaemon.VirshAsync("undefine", "isola-" + id);
            }
        }
    }

    private static async Task<JsonElement> Created(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        Assert.True(status == 201, body.ToString());
        return body;
    }
}
