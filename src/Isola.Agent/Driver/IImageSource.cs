using Isola.Rendering.Boot;

namespace Isola.Agent.Driver;

/// <summary>Where the agent gets an image's bytes from (the API, with the host's token).</summary>
public interface IImageSource
{
    /// <summary>Copies the image's bytes into <paramref name="destination"/> (the caller checks the size and checksum).</summary>
    Task CopyToAsync(ImageRef image, Stream destination, CancellationToken ct);
}
