using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Isola.Rendering;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Networks;
using Isola.Server.Services;
using Isola.Store.Documents;
using Isola.Store.Resources;

namespace Isola.Server.Ports;

/// <summary>
/// Ports: made (checked, addresses allocated, written with its addresses and groups in one
/// transaction), found, deleted, and the hosts that depend on them told.
/// </summary>
internal sealed partial class PortService(ResourceStore store, PeerRevisions peers)
{
    /// <summary>Makes a port (<see cref="MakeAsync"/>) and tells the hosts whose rules name its groups of its addresses.</summary>
    public async Task<PortRecord> CreateAsync(Caller caller, CreatePort body)
    {
        var port = await MakeAsync(caller, body);
        // A new member of its groups: hosts whose rules name them as remote hear of its addresses.
        await peers.TouchGroupsAsync(await peers.GroupsOfAsync([port.Id]));
        return port;
    }

    /// <summary>Deletes a port not bound to a server; its groups' hosts hear it left. Its addresses and group links go with the row (ON DELETE CASCADE).</summary>
    public async Task DeleteAsync(Caller caller, string id)
    {
        var port = await Find(caller, id);
        var groups = await peers.GroupsOfAsync([port.Id]);
        if (port.ServerId is not null || !await store.Ports.DeleteAsync(port.Id))
        {
            // Of two deletes of one port, the second finds it gone.
            if (await store.Ports.FindAsync(null, port.Id) is null)
                throw ApiException.NotFound("port", id);
            throw ApiException.Conflict("in-use", $"port {port.Name} is bound to a server; delete the server first");
        }
        await peers.TouchGroupsAsync(groups);
    }

    /// <summary>
    /// Makes a port: checks it, allocates its addresses, writes it with its addresses and groups in one
    /// transaction. <paramref name="createdFor"/>: the server that made it for itself (it goes with that server).
    /// </summary>
    public async Task<PortRecord> MakeAsync(Caller caller, CreatePort body, string? createdFor = null)
    {
        var errors = new List<FieldError>();
        var (vnic, bond, mac) = CheckFields(body, errors);
        NetworkRecord? network = null;
        if (body.Network is null)
            errors.Add(new("network", "a port is on a network"));
        else
            network = await NetworkService.Find(store, caller, body.Network);
        var sriov = vnic?.NeedsDevice == true;
        if (network is not null && vnic is not null && !vnic.AllowsNetwork(network.Type))
            errors.Add(new("vnicType", $"SR-IOV ports ({body.VnicType}) live on {string.Join(" or ", vnic.NetworkTypes ?? [])} networks; {network.Name} is {network.Type}"));
        if (errors.Count > 0 || network is null || vnic is null)
            throw ApiException.Invalid(errors);
        var project = await caller.ProjectForAsync(store, body.Project);
        // Admins see every network: a port still only goes on a network of its own project, or a shared one.
        if (network.ProjectId != project && !network.Shared)
            throw ApiException.Invalid("network", $"network {network.Name} belongs to another project and is not shared");
        var planned = await PortAddresses.PlanAsync(store, network, body.FixedIps, errors);
        var qos = await PortPolicies.QosAsync(store, project, body, vnic, errors);
        var groups = await PortPolicies.SecurityGroupsAsync(store, project, body, vnic, errors);
        // The host plan's own rules for the port's settings (one set with the renderer: what passes here renders there).
        // The port as its host plan will have it; its MAC (when generated) is drawn per attempt below.
        var asked = new PortSpec(body.Name ?? "", vnic.Type, mac ?? "", body.Ha, sriov ? network.Physnet : null,
            network.Type == "vlan" ? (int?)network.Segment : null, body.VlanQos, "802.1Q", body.SpoofCheck ?? body.PortSecurityEnabled, body.Trust,
            Isola.Domain.Pci.VfLinkState.Auto, qos.MaxTxRateMbps, qos.MinTxRateMbps, bond ?? BondMode.ActiveBackup, Mtu: network.Mtu, Addresses: Canonical(body.Addresses),
            Gateway: body.Gateway is null ? null : Canonical([body.Gateway])![0], HaDistinctAdapters: body.HaDistinctAdapters,
            IrqVcpus: body.IrqVcpus, Queues: body.Queues);
        foreach (var rule in PortRules.Check(asked))
        {
            var field = rule.Field == "spoofCheck" && body.SpoofCheck is null ? "portSecurityEnabled" : rule.Field;
            if (errors.All(e => e.Field != field))
                errors.Add(new(field, rule.Message));
        }
        if (errors.Count > 0)
            throw ApiException.Invalid(errors);
        var options = new PortOptions(planned.Select(p => p.Request).ToList(), qos.Policy?.Id, qos.RuleIds, body.PortSecurityEnabled, groups, createdFor);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var spec = asked with { Mac = mac ?? NewMac() };
            var port = new PortRecord(ResourceStore.NewId(), project, network.Id, spec.Name, spec.Mac, "DOWN", null, StoredDocument<PortSpec>.Of(spec), null);
            var result = await store.Ports.CreateAsync(port, options, allocated =>
            {
                var (addresses, gateway, dns) = PortAddresses.Guest(planned, allocated, spec.Addresses, spec.Gateway);
                return spec with { Addresses = addresses, Gateway = gateway, DnsServers = dns };
            });
            switch (result.Outcome)
            {
                case PortCreate.Created:
                    return (await store.Ports.FindAsync(null, port.Id))!;
                case PortCreate.AddressInUse:
                    throw ApiException.Conflict("ip-in-use", $"{planned[result.Index].Request.Address} is held by another port", planned[result.Index].Field);
                case PortCreate.AddressesExhausted:
                    throw ApiException.Conflict("ips-exhausted", $"subnet {planned[result.Index].Subnet.Name} has no free address left", planned[result.Index].Field);
                case PortCreate.ReferenceGone:
                    throw new ApiException(503, "busy", "a subnet, QoS policy or security group the port names changed meanwhile; retry");
            }
            if (await store.Ports.FindAsync(project, port.Name) is not null)
                throw ApiException.Conflict("name-taken", $"the project has a port named {port.Name}", "name");
            if (mac is not null)
                throw ApiException.Conflict("mac-in-use", $"MAC {mac} is in use", "mac");
        }
        throw ApiException.Conflict("mac-in-use", "no free MAC after 5 tries", "mac");
    }

    /// <summary>
    /// The fields that need nothing from the store and are the API's alone: name, vnic type, HA, MAC,
    /// bond mode, spoof check, addresses. VLAN priority, rates and the HA rules are the host plan's
    /// (<see cref="PortRules"/>), checked once the port's spec is known.
    /// </summary>
    private static (VnicKind? Vnic, BondMode? Bond, string? Mac) CheckFields(CreatePort body, List<FieldError> errors)
    {
        ResourceNames.Check(body.Name, "name", errors);
        var vnic = body.VnicType is null ? VnicKind.Normal : VnicKind.Parse(body.VnicType);
        if (vnic is null)
            errors.Add(new("vnicType", $"must be {VnicKind.Names(VnicKind.All.Where(k => k.AcceptedAtApi))}"));
        else if (vnic.RefusedAtApi is { } refused)
            errors.Add(new("vnicType", refused));
        if (body.Ha && vnic?.HaAllowed != true)
            errors.Add(new("ha", "an HA bond needs vnic type direct"));
        var mac = body.Mac?.ToLowerInvariant();
        if (mac is not null && (!MacRule().IsMatch(mac) || (Convert.ToInt32(mac[..2], 16) & 1) == 1 || mac == "00:00:00:00:00:00"))
            errors.Add(new("mac", $"'{body.Mac}' is not a unicast MAC aa:bb:cc:dd:ee:ff"));
        var bond = body.BondMode switch
        {
            null or "active-backup" => BondMode.ActiveBackup,
            "balance-rr" => BondMode.BalanceRr,
            "balance-xor" => BondMode.BalanceXor,
            _ => (BondMode?)null,
        };
        if (bond is null)
            errors.Add(new("bondMode", "must be active-backup, balance-rr or balance-xor"));
        if (body.SpoofCheck == true && !body.PortSecurityEnabled)
            errors.Add(new("spoofCheck", "a port with portSecurityEnabled false has no spoof check"));
        // Addresses go into the guest's network configuration: addresses, nothing else, in canonical form.
        errors.AddRange(Isola.Rendering.Guest.GuestAddresses.Check(body.Addresses, body.Gateway, null, "").Select(e => new FieldError(e.Field, e.Message)));
        if (body.Addresses is { Count: > 16 })
            errors.Add(new("addresses", "at most 16 static addresses"));
        return (vnic, bond, mac);
    }

    /// <summary>Checked addresses (with or without a prefix) in canonical text.</summary>
    private static List<string>? Canonical(IReadOnlyList<string>? addresses) => addresses?.Select(a =>
        Isola.Rendering.Guest.GuestAddresses.TryCidr(a, out var cidr, out _) ? cidr
        : Isola.Domain.Net.IpAddressText.TryParse(a, out var ip) ? ip.ToString() : a).ToList();

    public async Task<PortRecord> Find(Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Ports.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("port", id);
    }

    private static string NewMac()
    {
        Span<byte> b = stackalloc byte[3];
        RandomNumberGenerator.Fill(b);
        return $"fa:16:3e:{b[0]:x2}:{b[1]:x2}:{b[2]:x2}";
    }

    [GeneratedRegex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]
    private static partial Regex MacRule();
}
