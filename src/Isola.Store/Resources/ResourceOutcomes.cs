namespace Isola.Store.Resources;

/// <summary>What deleting a resource came to.</summary>
public enum Removal
{
    Deleted,
    NotFound,
    /// <summary>Something still uses it (an address, a port).</summary>
    InUse,
}

/// <summary>What adding a rule to a QoS policy or a security group came to.</summary>
public enum RuleCreate
{
    Created,
    /// <summary>The policy (or group) has a rule like it already.</summary>
    Duplicate,
    /// <summary>Ports use the policy: their specs were made from its rules.</summary>
    InUse,
    ParentGone,
}
