using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;

namespace Isola.Server;

/// <summary>The server could not listen where it was asked to: the address is taken, or not this host's, or not allowed.</summary>
/// <param name="AddressInUse">Another process holds the address; a later start may work.</param>
public sealed partial class ListenException(string address, string reason, bool addressInUse, Exception inner)
    : Exception($"cannot listen on {address}: {reason}", inner)
{
    public string Address { get; } = address;

    public bool AddressInUse { get; } = addressInUse;

    /// <summary>What Kestrel threw when it could not bind, as a ListenException; null for any other failure.</summary>
    public static ListenException? From(Exception e, string urls)
    {
        var bind = BindMessage().Match(e.Message);
        var address = bind.Success ? bind.Groups[1].Value : urls;
        return e switch
        {
            IOException { InnerException: AddressInUseException } =>
                new ListenException(address, "the address is in use (another process listens there)", true, e),
            IOException { InnerException: SocketException s } => new ListenException(address, s.Message, false, e),
            SocketException s => new ListenException(address, s.Message, false, e),
            IOException when bind.Success => new ListenException(address, e.Message, false, e),
            _ => null,
        };
    }

    [GeneratedRegex(@"Failed to bind to address (\S+): ")]
    private static partial Regex BindMessage();
}
