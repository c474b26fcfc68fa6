using Isola.Domain.Serialization;
using Isola.Coordination;
using Isola.Server.Api;
using Isola.Server.Flavors;
using Isola.Server.Hosts;
using Isola.Server.Images;
using Isola.Server.Supervision;
using Isola.Server.ServerGroups;
using Isola.Server.Networks;
using Isola.Server.Ports;
using Isola.Server.Projects;
using Isola.Server.Servers;
using Isola.Server.Services;
using Isola.Server.Settings;
using Isola.Store;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Isola.Server;

/// <summary>A started server, and the admin token's secret when this start made it (shown once).</summary>
public sealed record StartedServer(WebApplication App, string? InitialAdminSecret);

/// <summary>The API server: the store migrated, the fleet loaded, the routes mapped, listening; an admin token on first start.</summary>
public static class IsolaServer
{
    /// <summary>
    /// Builds the server and starts listening; only once it listens is the first admin token made, so a
    /// start that cannot listen (<see cref="ListenException"/>) leaves no token nobody saw.
    /// </summary>
    public static async Task<StartedServer> StartAsync(ServerSettings settings, TimeProvider? time = null, CancellationToken ct = default)
    {
        var starting = new Starting();
        var app = await BuildAsync(settings, time, starting);
        try
        {
            await app.StartAsync(ct);
        }
        catch (Exception e) when (ListenException.From(e, settings.Urls) is { } cannot)
        {
            await app.DisposeAsync();
            throw cannot;
        }
        finally
        {
            starting.Done = true;
        }
        var resources = app.Services.GetRequiredService<ResourceStore>();
        string? secret = null;
        if (!await resources.Tokens.AnyAdminAsync())
            (_, secret) = await resources.Tokens.CreateAsync("admin", null, null);
        return new StartedServer(app, secret);
    }

    /// <summary>Until the server listens the host's own log of a failed start is left out: the failure is thrown to the caller instead.</summary>
    private sealed class Starting
    {
        public volatile bool Done;
    }

    private static async Task<WebApplication> BuildAsync(ServerSettings settings, TimeProvider? time, Starting starting)
    {
        time ??= TimeProvider.System;
        var factory = StoreConnectionFactory.Parse(settings.Store);
        if (factory.Engine == StoreEngine.Sqlite && Path.GetDirectoryName(Path.GetFullPath(settings.Store)) is { } dir)
            Directory.CreateDirectory(dir);
        var placements = new PlacementStore(factory, time) { BuildTimeout = TimeSpan.FromSeconds(settings.BuildTimeoutSeconds) };
        await placements.MigrateAsync();
        var resources = new ResourceStore(factory, time);
        var placement = new PlacementService(placements);
        await placement.StartAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.AddFilter((category, level) => level >= LogLevel.Warning && (starting.Done || category != "Microsoft.Extensions.Hosting.Internal.Host"));
        builder.Services.Configure<JsonOptions>(o =>
        {
            foreach (var converter in IsolaJson.Options.Converters)
                o.SerializerOptions.Converters.Add(converter);
            // A field the API does not have is a mistake worth hearing of (a typo would otherwise be ignored), as Nova's schemas say.
            o.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.MaxDepth = RequestBody.MaxDepth;
        });
        // A body that does not bind reaches ApiMiddleware as an exception, which answers it in the documented form.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddSingleton(settings).AddSingleton(time).AddSingleton(placements).AddSingleton(resources).AddSingleton(placement)
            .AddSingleton(new LifecycleStore(factory, time)).AddSingleton(new HostNetworkStore(factory)).AddSingleton<PeerRevisions>().AddSingleton<PortService>().AddSingleton<ServerService>().AddSingleton<HostSignals>().AddSingleton<PlanCache>().AddSingleton<PlanFailures>().AddSingleton<BuildTimeouts>()
            .AddHostedService(sp => sp.GetRequiredService<BuildTimeouts>())
            .AddSingleton(new ServerActionStore(factory, time)).AddSingleton<ServerActionService>()
            .AddSingleton(new ServerMoveStore(factory, time)).AddSingleton<ServerMoveService>().AddSingleton(new ServerConsoleStore(factory, time))
            .AddSingleton<ShutdownTimeouts>().AddHostedService(sp => sp.GetRequiredService<ShutdownTimeouts>())
            .AddSingleton<AgentWatch>().AddHostedService(sp => sp.GetRequiredService<AgentWatch>())
            .AddSingleton<IImageBlobs>(new FileImageBlobs(settings.ImageDirectory(), time))
            .AddSingleton(new ImageInspector(new Isola.Host.Commands.ProcessCommandRunner(ImageInspector.Timeout))).AddSingleton<ImageService>();
        builder.Services.AddOpenApi();
        var app = builder.Build();
        app.UseMiddleware<ApiMiddleware>();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));
        var api = app.MapGroup("/v1");
        ProjectEndpoints.Map(api);
        TokenEndpoints.Map(api);
        NetworkEndpoints.Map(api);
        Subnets.SubnetEndpoints.Map(api);
        QosPolicies.QosPolicyEndpoints.Map(api);
        SecurityGroups.SecurityGroupEndpoints.Map(api);
        FlavorEndpoints.Map(api);
        ImageEndpoints.Map(api);
        PortEndpoints.Map(api);
        ServerEndpoints.Map(api);
        HostEndpoints.Map(api);
        AgentEndpoints.Map(api);
        ServerGroupEndpoints.Map(api);
        return app;
    }
}
