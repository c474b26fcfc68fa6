namespace Isola.Domain.Pci;

/// <summary>What a PCI function is for, from the base class byte of its class code.</summary>
public enum DeviceKind
{
    Other,
    /// <summary>Class 0x02: network controller.</summary>
    Network,
    /// <summary>Class 0x01: mass storage controller (0x0108xx is NVMe).</summary>
    Storage,
}

public static class DeviceKinds
{
    public static DeviceKind FromClassCode(int classCode) => (classCode >> 16) switch
    {
        0x02 => DeviceKind.Network,
        0x01 => DeviceKind.Storage,
        _ => DeviceKind.Other,
    };
}
