using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isola.Cli.Local;
using Isola.Tests.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Vm;

/// <summary>
/// <c>isola up --libvirt</c> as a newcomer runs it: this machine as the one host (its libvirtd; Open vSwitch started at its
/// default run directory when it does not run), the examples made; a server from an uploaded image on the internal VXLAN
/// network boots, reads its address from its config drive, and answers a ping from a second one; a VF port is refused
/// naming why (this machine has no SR-IOV NIC); and once the cloud stops, the Open vSwitch it started is gone.
/// </summary>
[Collection(LabHostFixture.Collection)]
public sealed class UpLibvirtTests(RealVmFixture vm) : IClassFixture<RealVmFixture>
{
    private static string PingUserData(string peer) => $$"""
        #!/bin/sh
        ( n=0; while true; do n=$((n+1)); if ping -c 1 -W 2 {{peer}} >/dev/null 2>&1; then echo "isola-guest: ping {{peer}} $n ok"; else echo "isola-guest: ping {{peer}} $n fail"; fi; sleep 1; done ) &
        """;

    [SkippableFact]
    public async Task Isola_up_libvirt_runs_real_vms_on_this_machine_that_get_their_addresses_and_ping_each_other()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        var ovsRan = (await new Isola.Host.Commands.ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync(["ovs-vsctl", "--timeout=3", "show"])).Succeeded;
        var dir = vm.Dir.Sub("up-libvirt");
        var ids = new List<string>();
        await using (var cloud = await LocalCloud.StartAsync(new LocalCloudOptions(dir, Urls: "http://127.0.0.1:0", Libvirt: true, Resync: TimeSpan.FromSeconds(1))))
        {
            Assert.Null(Assert.Single(cloud.Hosts).Simulation);
            using var api = new HttpClient { BaseAddress = new Uri(cloud.Url) };
            api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", cloud.AdminToken);
            var (_, image) = await api.Post("/v1/images", new { name = "guest", diskFormat = "qcow2", project = "demo" });
            await using (var file = File.OpenRead(vm.Image))
            {
                using var content = new StreamContent(file);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                using var uploaded = await api.PutAsync($"/v1/images/{image.Str("id")}/file", content);
                Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
            }
            try
            {
                var addresses = new[] { "10.20.0.31", "10.20.0.32" };
                for (var i = 0; i < 2; i++)
                {
                    var (status, server) = await api.Post("/v1/servers", new
                    {
                        name = $"vm{i + 1}", flavor = "tiny", image = "guest", project = "demo",
                        networks = new[] { new { network = "internal", fixedIps = new[] { new { ipAddress = addresses[i] } } } },
                        userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(PingUserData(addresses[1 - i]))),
                    });
                    Assert.True(status == 201, server.ToString());
                    ids.Add(server.Str("id"));
                }
                for (var i = 0; i < 2; i++)
                {
                    var id = ids[i];
                    await Eventually.UntilAsync(async () => (await api.Get($"/v1/servers/{id}")).Body, s => s.Str("status") is "ACTIVE" or "ERROR", $"vm{i + 1} ACTIVE");
                    var console = Path.Join(dir, "instances", "isola-" + id, "console.log");
                    var text = await Eventually.UntilAsync(() => Task.FromResult(File.Exists(console) ? File.ReadAllText(console) : ""),
                        t => Regex.IsMatch(t, $@"isola-guest: ping {Regex.Escape(addresses[1 - i])} \d+ ok"), $"vm{i + 1} answered by the other");
                    Assert.Matches($@"isola-guest: nic \S+ \S+ mtu 1450 addresses {Regex.Escape(addresses[i])}/24", text);
                }

                // No VF here: an SR-IOV port is refused by placement, naming why.
                var (refused, why) = await api.Post("/v1/servers", new
                {
                    name = "vf", flavor = "tiny", image = "guest", project = "demo", networks = new[] { new { network = "ext", vnicType = "direct" } },
                });
                Assert.Equal((409, "no-valid-host"), (refused, why.ErrorCode()));
                Assert.Contains("SR-IOV", why.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

                foreach (var id in ids)
                    Assert.Equal(204, (await api.Delete($"/v1/servers/{id}")).Status);
                foreach (var id in ids)
                {
                    await Eventually.UntilAsync(async () => !(await LibvirtDaemon.VirshAsync("list", "--all", "--name")).StandardOutput.Contains(id, StringComparison.Ordinal),
                        "the domain undefined");
                }
            }
            finally
            {
                foreach (var id in ids)
                {
                    await LibvirtDaemon.VirshAsync("destroy", "isola-" + id);
                    await LibvirtDaemon.VirshAsync("undefine", "isola-" + id);
                }
            }
        }
        // What it started, it stopped.
        if (!ovsRan)
            Assert.False((await new Isola.Host.Commands.ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync(["ovs-vsctl", "--timeout=3", "show"])).Succeeded);
    }
}
