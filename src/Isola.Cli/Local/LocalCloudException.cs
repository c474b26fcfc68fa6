namespace Isola.Cli.Local;

/// <summary><c>isola up</c>'s directory cannot be used as it is (the message says why and what to do).</summary>
public sealed class LocalCloudException(string message) : Exception(message);
