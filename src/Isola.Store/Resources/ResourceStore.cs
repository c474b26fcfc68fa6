namespace Isola.Store.Resources;

/// <summary>
/// The API's resources as rows: one store per aggregate, each in its own file beside its records.
/// Rules about them live in the server; this holds them together so one store is registered and
/// handed around.
/// </summary>
public sealed class ResourceStore(StoreConnectionFactory factory, TimeProvider time)
{
    /// <summary>The projects.</summary>
    public ProjectStore Projects { get; } = new(factory, time);

    /// <summary>The tokens (only a hash of each secret).</summary>
    public TokenStore Tokens { get; } = new(factory, time);

    /// <summary>The networks and their segments.</summary>
    public NetworkStore Networks { get; } = new(factory, time);

    /// <summary>The subnets.</summary>
    public SubnetStore Subnets { get; } = new(factory, time);

    /// <summary>The flavors.</summary>
    public FlavorStore Flavors { get; } = new(factory, time);

    /// <summary>The images (their rows; the bytes are the server's image blobs).</summary>
    public ImageStore Images { get; } = new(factory, time);

    /// <summary>The ports with their addresses, QoS, security groups and bindings.</summary>
    public PortStore Ports { get; } = new(factory, time);

    /// <summary>The servers as the API reads them.</summary>
    public ServerStore Servers { get; } = new(factory);

    /// <summary>The server groups.</summary>
    public ServerGroupStore ServerGroups { get; } = new(factory, time);

    /// <summary>The QoS policies and rules.</summary>
    public QosStore Qos { get; } = new(factory, time);

    /// <summary>The security groups and rules.</summary>
    public SecurityGroupStore SecurityGroups { get; } = new(factory, time);

    public static string NewId() => Guid.NewGuid().ToString();
}
