namespace Isola.Domain.Topology;

/// <summary>Hugepages of one size on one NUMA cell (<c>node/nodeN/hugepages/hugepages-&lt;size&gt;kB</c>).</summary>
public sealed record HugepagePool(long PageSizeKiB, int Total, int Free)
{
    public const long Size2M = 2048;
    public const long Size1G = 1048576;
}
