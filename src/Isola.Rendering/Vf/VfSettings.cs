using Isola.Domain.Pci;

namespace Isola.Rendering.Vf;

/// <summary>The state one VF must have for its port, and where it is.</summary>
public sealed record VfSettings(string Port, string PfNetDev, string? Driver, PciAddress Pf, PciAddress Vf, int VfIndex, VfState Desired);
