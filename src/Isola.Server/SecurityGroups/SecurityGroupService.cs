using Isola.Store.Resources;

namespace Isola.Server.SecurityGroups;

/// <summary>Security groups as other features use them: the project's default group.</summary>
internal static class SecurityGroupService
{
    public const string Default = "default";

    /// <summary>The project's default group, made (with Neutron's default rules) when it has none yet.</summary>
    public static Task<SecurityGroupRecord> DefaultGroupAsync(ResourceStore store, string projectId)
    {
        var id = ResourceStore.NewId();
        return store.SecurityGroups.EnsureAsync(new SecurityGroupRecord(id, projectId, Default, "Default security group"), SecurityGroupRules.Defaults(id));
    }
}
