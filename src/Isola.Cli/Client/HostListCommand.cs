using System.CommandLine;

namespace Isola.Cli.Client;

/// <summary><c>isola host list</c>: GET /v1/hosts, each registered host's zone and how much of it is claimed (admin).</summary>
internal static class HostListCommand
{
    private static readonly Column[] Columns =
    [
        Column.Of("name"), Column.Of("zone"), Column.Of("aggregates"), Column.Of("generation"), Column.Of("enabled"),
        Column.Of("pinned", h => Column.UsedOf(h, "pinnedUsed", "pinnedTotal")), Column.Of("vfs", h => Column.UsedOf(h, "vfsUsed", "vfsTotal")),
    ];

    public static Command Create(CliConsole console) => ResourceVerbs.List(console, "hosts", "host", Columns);
}
