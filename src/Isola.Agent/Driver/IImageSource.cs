using Isola.Rendering.Boot;

namespace Isola.Agent.Driver;

/// <summary>Where the agent gets an image's bytes from (the API, with the host's token).</summary>
public interface IImageSource
{
    /// <summary>Copies the image's bytes into <paramref name="destination"/> (the caller checks the size and checksum).</summary>
    Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct);
}

/// <summary>
/// How a server's disk moves between hosts in a resize or migration (through the controller, with the host's token): the source
/// sends it once its domain is shut off, the destination receives it. The controller client is one; an image source that is
/// one too carries disks for the agent.
/// </summary>
public interface IDiskCarrier
{
    Task SendDiskAsync(string serverId, Stream disk, CancellationToken ct);

    /// <summary>Copies the disk into <paramref name="destination"/>; answers the SHA-256 its source sent (null: not said).</summary>
    Task<string?> ReceiveDiskAsync(string serverId, Stream destination, CancellationToken ct);
}
