using System.Net;
using Isola.Agent;
using Isola.Agent.Facets;
using Isola.Domain.Topology;
using Isola.Rendering.Libvirt;
using Isola.Tests.Agent.Facets;

namespace Isola.Tests.Agent;

/// <summary>The agent's console log sender against a controller that answers each PUT as it is told to.</summary>
public sealed class ConsoleLogsTests : IDisposable
{
    private readonly FacetWorld _w = new();

    public void Dispose() => _w.Dispose();

    private sealed class Controller(Func<string, HttpStatusCode> answer) : HttpMessageHandler
    {
        public List<string> Puts { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            Puts.Add(path);
            var status = answer(path);
            return Task.FromResult(new HttpResponseMessage(status)
            {
                RequestMessage = request,
                Content = new StringContent(status == HttpStatusCode.NoContent ? "" : "{\"error\":{\"code\":\"x\",\"message\":\"answered " + (int)status + "\"}}"),
            });
        }
    }

    private Isola.Contracts.Agent.DesiredServer Server(string id)
    {
        var domain = Isola.Rendering.ServerSpec.DomainName(id);
        var files = InstanceFiles.Of(HostVirtualization.Default, domain);
        _w.HostFile(files.ConsoleLog, $"console of {id}\n");
        return FacetWorld.Server(_w.Plan() with { Server = domain, Files = files }, "ACTIVE", id: id);
    }

    [Fact]
    public async Task A_server_that_left_the_host_since_the_desired_state_was_read_is_no_failure_and_is_not_sent_again_while_other_errors_are()
    {
        const string gone = "00000000-0000-0000-0000-0000000000b1", here = "00000000-0000-0000-0000-0000000000b2", broken = "00000000-0000-0000-0000-0000000000b3";
        var controller = new Controller(path => path.Contains(gone, StringComparison.Ordinal) ? HttpStatusCode.NotFound
            : path.Contains(broken, StringComparison.Ordinal) ? HttpStatusCode.InternalServerError : HttpStatusCode.NoContent);
        using var http = new HttpClient(controller) { BaseAddress = new Uri("http://controller.invalid") };
        var logs = new ConsoleLogs(_w.Driver.Storage, new ControllerClient(http, "sim1"));
        var desired = FacetWorld.Desired(Server(gone), Server(here), Server(broken));

        var failures = await logs.SendChangedAsync(desired, default);

        Assert.Equal(3, controller.Puts.Count);
        Assert.Equal([$"console log of {broken}: 500 /v1/hosts/sim1/servers/{broken}/console-log: answered 500"], failures);
        // Next cycle, nothing changed: only the log that could not be sent is tried again.
        Assert.Single(await logs.SendChangedAsync(desired, default));
        Assert.Equal(4, controller.Puts.Count);
        Assert.EndsWith($"/{broken}/console-log", controller.Puts[^1], StringComparison.Ordinal);
    }
}
