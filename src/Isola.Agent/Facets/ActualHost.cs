using System.Collections.Immutable;

namespace Isola.Agent.Facets;

/// <summary>A facet's reading of the host; <see cref="None"/> is what a host holds that nothing was read from.</summary>
public interface IReading<TSelf> where TSelf : class, IReading<TSelf>
{
    static abstract TSelf None { get; }
}

/// <summary>What the host holds, as the facets read it: one reading per facet, by its type.</summary>
public sealed class ActualHost
{
    private readonly ImmutableDictionary<Type, object> _readings;

    private ActualHost(ImmutableDictionary<Type, object> readings) => _readings = readings;

    public static ActualHost Empty { get; } = new(ImmutableDictionary<Type, object>.Empty);

    /// <summary>A host holding these readings (one per type; a test gives the ones it cares about).</summary>
    public static ActualHost Of(params object[] readings) => readings.Aggregate(Empty, (host, r) => host.With(r));

    public ActualHost With(object reading) => new(_readings.SetItem(reading.GetType(), reading));

    /// <summary>A facet's reading; <see cref="IReading{TSelf}.None"/> when it was not read.</summary>
    public T Get<T>() where T : class, IReading<T> => _readings.TryGetValue(typeof(T), out var r) ? (T)r : T.None;
}
