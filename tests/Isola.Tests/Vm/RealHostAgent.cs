using System.Net.Http.Headers;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>
/// This machine as one real host of an API server started by a test: discovered (the domain type KVM only where a KVM guest
/// boots, else TCG), registered with its own host token, and a real agent cycling against the machine's libvirtd and QEMU in
/// the background — woken by each revision, and at least every second to see what guests do by themselves. Only the
/// server's facets run: the host-wide ones would rewrite this machine's own irqbalance and systemd files.
/// </summary>
public sealed class RealHostAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _failures = [];
    private Task _loop = Task.CompletedTask;
    private int _cycles;
    private bool _disposed;

    private RealHostAgent(string instances, string state, HostDriver driver, HostAgent agent)
    {
        Instances = instances;
        State = state;
        Driver = driver;
        Agent = agent;
    }

    public string Instances { get; }

    /// <summary>The agent's state directory.</summary>
    public string State { get; }

    /// <summary>Every distinct failure of a cycle so far (a failed step, or a cycle that threw): a test that wants none asserts this empty.</summary>
    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_failures)
                return [.. _failures];
        }
    }

    public HostDriver Driver { get; }

    public HostAgent Agent { get; }

    /// <summary>Cycles done so far.</summary>
    public int Cycles => Volatile.Read(ref _cycles);

    /// <summary>The console log of a server's domain on this host.</summary>
    public string ConsoleLog(string serverId) => Path.Join(Instances, "isola-" + serverId, "console.log");

    /// <param name="ovs">
    /// With Open vSwitch's part too, as <c>isola agent --ovs-datapath netdev</c> runs it (the host's switch at OVS's default
    /// run directory, its tunnel endpoint 127.0.0.1): for servers with virtio ports.
    /// </param>
    public static async Task<RealHostAgent> StartAsync(ApiServer server, HttpClient admin, string stateRoot, string name, ITestOutputHelper output, bool ovs = false)
    {
        var instances = Path.Join(stateRoot, name + "-instances");
        var state = Path.Join(stateRoot, name + "-agent");
        var discovered = await new HostDiscovery("/", CommandRunners.ForRoot("/"), HostConfig.Empty).DiscoverAsync();
        var domainType = discovered.Virt.DomainType == HostVirtualization.Kvm && await LabKernel.KvmUsableAsync() ? HostVirtualization.Kvm : HostVirtualization.Qemu;
        var inventory = discovered with { Virtualization = discovered.Virt with { DomainType = domainType, InstancesDirectory = instances } };
        var token = (await admin.Post("/v1/tokens", new { role = "host", host = inventory.Hostname })).Body.Str("secret");
        var client = ControllerClient.Create(new Uri(server.Url), token, inventory.Hostname, tunnelIp: ovs ? "127.0.0.1" : null);
        var runner = new ProcessCommandRunner(TimeSpan.FromMinutes(2));
        var driver = new HostDriver(runner, "/", state, LibvirtDaemon.Uri, instances, client);
        var agent = new HostAgent(inventory, client, driver, new AppliedStore(state), TimeProvider.System)
        {
            Facets = HostFacets.All.Where(f => f is not (IrqbalanceFacet or CpuIsolationFacet)).ToList(),
            Resync = TimeSpan.FromSeconds(1),
            Ovs = ovs ? new OvsCycle(new OvsDriver(runner, state, "netdev"), Isola.Rendering.Flows.OvsLayout.Default) : null,
        };
        await agent.RegisterAsync(default);
        var host = new RealHostAgent(instances, state, driver, agent);
        host._loop = Task.Run(() => host.LoopAsync(output));
        return host;
    }

    /// <summary>Uploads a qcow2 image file as a project's image.</summary>
    public static async Task UploadImageAsync(HttpClient admin, string name, string project, string path)
    {
        var (_, image) = await admin.Post("/v1/images", new { name, diskFormat = "qcow2", project });
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var uploaded = await admin.PutAsync($"/v1/images/{image.Str("id")}/file", content);
        Assert.True(uploaded.IsSuccessStatusCode, await uploaded.Content.ReadAsStringAsync());
    }

    private async Task LoopAsync(ITestOutputHelper output)
    {
        long? revision = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var cycle = await Agent.CycleAsync(revision, _stop.Token);
                revision = cycle.Revision;
                foreach (var failure in cycle.Failures)
                {
                    output.WriteLine($"cycle {Cycles}: {failure}");
                    Failed(failure);
                }
                Interlocked.Increment(ref _cycles);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is HttpRequestException or Isola.Agent.Driver.DriverException)
            {
                // Said, and the next cycle waits for the next revision (or the agent's resync) as any other does.
                output.WriteLine($"cycle {Cycles}: {e.Message}");
                Failed("cycle: " + e.Message);
            }
        }
    }

    private void Failed(string failure)
    {
        lock (_failures)
        {
            if (!_failures.Contains(failure))
                _failures.Add(failure);
        }
    }

    /// <summary>Stops the agent (once: a test may stop it before its own clean-up, and the using ends it again).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
