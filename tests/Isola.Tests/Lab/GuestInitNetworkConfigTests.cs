using Isola.Host.Commands;
using Isola.Lab;
using Isola.Lab.Guest;
using Isola.Rendering;
using Isola.Rendering.Guest;
using Isola.Scheduling.Requests;
using Isola.Tests.Support;

namespace Isola.Tests.Lab;

/// <summary>
/// The test guest's reading of Isola's network-config, run as the guest runs it (busybox awk) on what the renderer
/// writes: every value quoted, lists in brackets. A regression here leaves a real guest without its address.
/// </summary>
public sealed class GuestInitNetworkConfigTests
{
    [SkippableFact]
    public async Task Busybox_awk_reads_the_quoted_macs_addresses_mtu_and_gateway_isola_writes()
    {
        Skip.IfNot(File.Exists(LabKernel.Busybox), $"{LabKernel.Busybox} is missing (Debian: busybox-static)");
        var nics = GuestNicLayout.Of([
            new PortSpec("vm-a-port", VnicType.Normal, "fa:16:3e:61:a4:ab", Mtu: 1450, Addresses: ["10.20.0.11/24", "fd00::11/64"], Gateway: "10.20.0.1",
                DnsServers: ["10.20.0.53", "10.20.0.54"]),
            new PortSpec("second", VnicType.Normal, "FA:16:3E:00:00:02"),
        ]);
        var config = NetworkConfigRenderer.Render("vm-a", nics);
        Assert.Contains("macaddress: \"fa:16:3e:61:a4:ab\"", config, StringComparison.Ordinal);
        Assert.Contains("addresses: [\"10.20.0.11/24\", \"fd00::11/64\"]", config, StringComparison.Ordinal);
        using var dir = new TempDir();
        var file = dir.Sub("network-config");
        await File.WriteAllTextAsync(file, config);

        var result = await new ProcessCommandRunner(TimeSpan.FromSeconds(10)).RunAsync([LabKernel.Busybox, "awk", GuestInit.NetworkConfigAwk, file]);

        Assert.True(result.Succeeded, result.Describe(["busybox", "awk", "...", file]));
        // MAC, name, MTU, gateway, dhcp, addresses: the nameservers' addresses are not the NIC's.
        Assert.Equal(["fa:16:3e:61:a4:ab vm-a-port 1450 10.20.0.1 - 10.20.0.11/24 fd00::11/64", "fa:16:3e:00:00:02 second - - dhcp4 -"],
            result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
