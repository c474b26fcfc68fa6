namespace Isola.Rendering.Flows.Tables;

/// <summary>Table 70: out of <c>reg7</c>'s port, through its ingress meter if it has a limit.</summary>
internal static class DeliverTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        flows.Add(FlowTables.Deliver, 0, "", "drop");
        foreach (var (port, ofport, _, _) in context.Local)
        {
            if (port.Ingress is null)
            {
                flows.Add(FlowTables.Deliver, 100, $"reg7={ofport}", $"output:{ofport}");
                continue;
            }
            var meter = FlowPipeline.IngressMeter(ofport);
            flows.Add(new Meter(meter, port.Ingress.Kbps, port.Ingress.BurstKb));
            flows.Add(FlowTables.Deliver, 100, $"reg7={ofport}", $"meter:{meter},output:{ofport}");
        }
    }
}
