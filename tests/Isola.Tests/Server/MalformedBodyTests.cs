using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;
using Isola.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Isola.Tests.Server;

/// <summary>
/// Every endpoint that takes a body, sent a generated set of broken ones: each value nulled, removed,
/// of the wrong type, overflowing, a huge string; null list items; unknown fields; truncated JSON; no
/// JSON at all. Never a 5xx; a refusal is a 4xx in the documented error body (naming the field for a
/// 400) and changes no row of the store; what is accepted (a value that is optional) is a 2xx.
/// </summary>
public sealed class MalformedBodyTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private ApiWorld _w = null!;
    private string _store = "";
    private int _unique;

    public async Task InitializeAsync()
    {
        _store = _dir.Sub("isola.db");
        _w = await ApiWorld.StartAsync(_store);
        Assert.Equal(201, (await _w.Admin.Post("/v1/flavors", new { name = "tiny", vcpus = 1, ram = 256, disk = 1 })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/networks", new { name = "int", type = "vxlan" })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/subnets", new { name = "int4", network = "int", cidr = "10.9.0.0/24" })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/security-groups", new { name = "web" })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/qos-policies", new { name = "gold" })).Status);
        Assert.Equal(201, (await _w.Member.Post("/v1/server-groups", new { name = "g", policy = "anti-affinity" })).Status);
        // A server whose host's agent reports.
        var (status, server) = await _w.Member.Post("/v1/servers", new { name = "reported", flavor = "tiny", networks = new[] { new { network = "int" } } });
        Assert.Equal(201, status);
        _reported = (server.Str("host"), server.Str("id"), server.GetProperty("ports")[0].Str("portId"));
    }

    private (string Host, string Server, string Port) _reported;

    public async Task DisposeAsync()
    {
        await _w.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    /// <summary>An endpoint and a valid body for it (made anew for each request: names are unique).</summary>
    /// <param name="Maps">Paths of objects whose keys are data (extra specs), not fields.</param>
    /// <param name="Versioned">A versioned document (the inventory) whose readers ignore fields they do not know, for agents newer than the server.</param>
    private sealed record Endpoint(string Name, HttpMethod Method, Func<HttpClient> Caller, Func<Task<string>> Path, Func<string, string> Body, string[]? Maps = null,
        bool Versioned = false);

    private IEnumerable<Endpoint> Endpoints()
    {
        yield return new("project", HttpMethod.Post, () => _w.Admin, () => Task.FromResult("/v1/projects"), n => $$"""{"name": "p{{n}}"}""");
        yield return new("token", HttpMethod.Post, () => _w.Admin, () => Task.FromResult("/v1/tokens"), _ => """{"role": "member", "project": "tenant-a"}""");
        yield return new("network", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/networks"), n => $$"""{"name": "n{{n}}", "type": "vxlan", "mtu": 1400}""");
        yield return new("subnet", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/subnets"), n => $$"""
            {"name": "s{{n}}", "network": "n-sub{{n}}", "cidr": "10.1.0.0/24", "gatewayIp": "10.1.0.1",
             "allocationPools": [{"start": "10.1.0.10", "end": "10.1.0.20"}], "dnsNameservers": ["10.1.0.53"], "enableDhcp": true}
            """);
        yield return new("port", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/ports"), n => $$"""
            {"name": "port{{n}}", "network": "int", "vnicType": "normal", "fixedIps": [{"subnet": "int4"}], "securityGroups": ["web"],
             "portSecurityEnabled": true, "addresses": ["10.9.0.200/24"], "gateway": "10.9.0.1"}
            """);
        yield return new("direct port", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/ports"), n => $$"""
            {"name": "vf{{n}}", "network": "lan", "vnicType": "direct", "ha": true, "vlanQos": 3, "maxTxRateMbps": 1000, "qosPolicy": "gold", "bondMode": "active-backup"}
            """);
        yield return new("flavor", HttpMethod.Post, () => _w.Admin, () => Task.FromResult("/v1/flavors"), n => $$"""
            {"name": "f{{n}}", "vcpus": 2, "ram": 2048, "disk": 10, "extraSpecs": {"hw:cpu_policy": "dedicated", "hw:mem_page_size": "1GB"} }
            """, Maps: ["extraSpecs"]);
        yield return new("image", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/images"), n => $$"""
            {"name": "img{{n}}", "diskFormat": "qcow2", "minDisk": 10, "visibility": "private"}
            """);
        yield return new("server", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/servers"), n => $$"""
            {"name": "vm{{n}}", "flavor": "tiny", "networks": [{"network": "int", "vnicType": "normal", "fixedIps": [{"subnet": "int4"}]}], "availabilityZone": "az1",
             "userData": "I2Nsb3VkLWNvbmZpZwo=", "sshKeys": ["{{Isola.Tests.Support.TestKeys.Ed25519(1)}}"]}
            """);
        yield return new("security group", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/security-groups"), n => $$"""{"name": "sg{{n}}", "description": "d"}""");
        yield return new("security group rule", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/security-group-rules"), _ => """
            {"securityGroup": "web", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "10.0.0.0/8"}
            """);
        yield return new("qos policy", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/qos-policies"), n => $$"""
            {"name": "q{{n}}", "description": "d", "rules": [{"type": "bandwidth-limit", "maxKbps": 10000, "maxBurstKbps": 800, "direction": "egress"}]}
            """);
        yield return new("qos rule", HttpMethod.Post, () => _w.Member, async () => $"/v1/qos-policies/{await FreshPolicyAsync()}/rules", _ => """
            {"type": "bandwidth-limit", "maxKbps": 10000, "maxBurstKbps": 800, "direction": "egress"}
            """);
        yield return new("server group", HttpMethod.Post, () => _w.Member, () => Task.FromResult("/v1/server-groups"), n => $$"""{"name": "sg{{n}}", "policy": "affinity"}""");
        yield return new("host set", HttpMethod.Patch, () => _w.Admin, () => Task.FromResult("/v1/hosts/h2"), _ => """{"enabled": false, "disabledReason": "maintenance"}""");
        yield return new("report", HttpMethod.Post, () => _w.Admin, () => Task.FromResult($"/v1/hosts/{_reported.Host}/report"), _ => $$"""
            {"appliedRevision": 0, "servers": [{"id": "{{_reported.Server}}", "vmState": "paused"}], "ports": [{"id": "{{_reported.Port}}", "status": "DOWN"}]}
            """);
        yield return new("inventory", HttpMethod.Put, () => _w.Admin, () => Task.FromResult("/v1/hosts/h9"), _ =>
            InventoryDocument.Of(new HostBuilder("h9").Sockets(1).Cores(2).Pages1G(2).Nic(0, "physnet2", 2, ports: 1).Build()).ToJson(), Versioned: true);
    }

    /// <summary>A name part no other text of a body contains.</summary>
    private string Unique() => $"u{Interlocked.Increment(ref _unique)}z";

    private async Task<string> FreshPolicyAsync()
    {
        var (status, body) = await _w.Member.Post("/v1/qos-policies", new { name = $"fresh{Unique()}" });
        Assert.Equal(201, status);
        return body.Str("id");
    }

    /// <summary>What one mutation is and what it may be answered with.</summary>
    /// <param name="Chunked">Sent without a Content-Length (Transfer-Encoding: chunked), as a streaming client sends it.</param>
    private sealed record Case(string What, string Text, bool MayBeAccepted, string ContentType = "application/json", bool Chunked = false);

    private static IEnumerable<Case> Mutations(string valid, IReadOnlySet<string> maps, bool versioned)
    {
        var root = JsonNode.Parse(valid)!;
        foreach (var (path, node) in Walk(root, ""))
        {
            var inMap = maps.Any(m => path.StartsWith(m + ".", StringComparison.Ordinal));
            if (path.Length > 0)
            {
                yield return new($"{path} = null", Replace(root, path, null), MayBeAccepted: true);
                yield return new($"{path} removed", Remove(root, path), MayBeAccepted: true);
                yield return new($"{path} of the wrong type", Replace(root, path, WrongType(node)), MayBeAccepted: false);
            }
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
            {
                yield return new($"{path} overflowing", ReplaceRaw(root, path, "1e400"), MayBeAccepted: false);
                yield return new($"{path} past 64 bits", ReplaceRaw(root, path, "99999999999999999999"), MayBeAccepted: false);
                yield return new($"{path} fractional", ReplaceRaw(root, path, "1.5"), MayBeAccepted: false);
            }
            if (node is JsonValue s && s.GetValueKind() == JsonValueKind.String && !path.StartsWith("host.", StringComparison.Ordinal))
                yield return new($"{path} a huge string", Replace(root, path, JsonValue.Create(new string('x', 1 << 20))), MayBeAccepted: false);
            if (node is JsonArray a && a.Count > 0)
            {
                var withNull = (JsonArray)a.DeepClone();
                withNull.Insert(0, null);
                yield return new($"{path} with a null item", Replace(root, path, withNull), MayBeAccepted: false);
            }
            if (node is JsonObject && !maps.Contains(path) && !inMap)
            {
                var extra = (JsonObject)node.DeepClone();
                extra["noSuchField"] = 1;
                yield return new($"{(path.Length == 0 ? "body" : path)} with an unknown field", path.Length == 0 ? extra.ToJsonString() : Replace(root, path, extra),
                    MayBeAccepted: versioned);
            }
        }
        var text = root.ToJsonString();
        foreach (var cut in new[] { 1, text.Length / 4, text.Length / 2, text.Length * 3 / 4, text.Length - 1 })
            yield return new($"truncated at {cut}", text[..cut], MayBeAccepted: false);
        yield return new("not JSON", "name=x", MayBeAccepted: false);
        yield return new("a trailing comma", text[..^1] + ",}", MayBeAccepted: false);
        yield return new("null", "null", MayBeAccepted: false);
        yield return new("a list", "[]", MayBeAccepted: false);
        yield return new("a number", "5", MayBeAccepted: false);
        yield return new("a string", "\"x\"", MayBeAccepted: false);
        yield return new("nested 200 deep", new string('[', 200) + new string(']', 200), MayBeAccepted: false);
        yield return new("plain text", text, MayBeAccepted: false, ContentType: "text/plain");
        // The same checks hold for a body of unknown length.
        yield return new("the valid body, chunked", text, MayBeAccepted: true, Chunked: true);
        yield return new("truncated at half, chunked", text[..(text.Length / 2)], MayBeAccepted: false, Chunked: true);
        yield return new("nested 200 deep, chunked", new string('[', 200) + new string(']', 200), MayBeAccepted: false, Chunked: true);
        yield return new("plain text, chunked", text, MayBeAccepted: false, ContentType: "text/plain", Chunked: true);
        yield return new("form data", text, MayBeAccepted: false, ContentType: "application/x-www-form-urlencoded");
    }

    private static IEnumerable<(string Path, JsonNode Node)> Walk(JsonNode node, string path)
    {
        yield return (path, node);
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    if (child is not null)
                    {
                        foreach (var x in Walk(child, path.Length == 0 ? key : $"{path}.{key}"))
                            yield return x;
                    }
                }
                break;
            case JsonArray a:
                // The first item stands for all (an inventory has hundreds).
                if (a.Count > 0 && a[0] is { } first)
                {
                    foreach (var x in Walk(first, $"{path}[0]"))
                        yield return x;
                }
                break;
        }
    }

    private static JsonNode WrongType(JsonNode node) => node switch
    {
        JsonObject => new JsonArray(1),
        JsonArray => new JsonObject { ["a"] = 1 },
        JsonValue v when v.GetValueKind() == JsonValueKind.String => JsonValue.Create(12345),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => JsonValue.Create("yes"),
        _ => JsonValue.Create("twelve"),
    };

    private static string Replace(JsonNode root, string path, JsonNode? value)
    {
        var copy = root.DeepClone();
        var (parent, key, index) = Locate(copy, path);
        if (index is { } i)
            ((JsonArray)parent)[i] = value;
        else
            ((JsonObject)parent)[key!] = value;
        return copy.ToJsonString();
    }

    private static string ReplaceRaw(JsonNode root, string path, string raw)
    {
        const string marker = "\"@@raw@@\"";
        return Replace(root, path, JsonValue.Create("@@raw@@")).Replace(marker, raw, StringComparison.Ordinal);
    }

    private static string Remove(JsonNode root, string path)
    {
        var copy = root.DeepClone();
        var (parent, key, index) = Locate(copy, path);
        if (index is { } i)
            ((JsonArray)parent).RemoveAt(i);
        else
            ((JsonObject)parent).Remove(key!);
        return copy.ToJsonString();
    }

    private static (JsonNode Parent, string? Key, int? Index) Locate(JsonNode root, string path)
    {
        var steps = System.Text.RegularExpressions.Regex.Matches(path, @"([^.\[\]]+)|\[(\d+)\]").Select(m => m.Groups[2].Success ? (object)int.Parse(m.Groups[2].Value) : m.Groups[1].Value).ToList();
        var node = root;
        for (var i = 0; i < steps.Count - 1; i++)
            node = steps[i] is int n ? node[n]! : node[(string)steps[i]]!;
        return steps[^1] is int last ? (node, null, last) : (node, (string)steps[^1], null);
    }

    /// <summary>Every row of every table, in one string (the store's whole content).</summary>
    private async Task<string> SnapshotAsync()
    {
        await using var c = new SqliteConnection($"Data Source={_store};Mode=ReadOnly;Pooling=False");
        await c.OpenAsync();
        var tables = new List<string>();
        await using (var list = c.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
            await using var r = await list.ExecuteReaderAsync();
            while (await r.ReadAsync())
                tables.Add(r.GetString(0));
        }
        var all = new StringBuilder();
        foreach (var table in tables)
        {
            await using var q = c.CreateCommand();
            q.CommandText = $"SELECT * FROM \"{table}\" ORDER BY 1";
            await using var r = await q.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await r.ReadAsync())
                rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "∅" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            all.Append(table).Append(':').Append(string.Join("\n", rows.Order(StringComparer.Ordinal))).Append('\n');
        }
        return all.ToString();
    }

    private static async Task<(int Status, string Body)> SendAsync(HttpClient client, HttpMethod method, string path, string text, string contentType, bool chunked = false)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Content = chunked ? new ChunkedContent(Encoding.UTF8.GetBytes(text)) : new StringContent(text, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Every_endpoint_answers_every_broken_body_with_a_4xx_that_names_it_and_changes_nothing()
    {
        var failures = new List<string>();
        var tried = 0;
        foreach (var endpoint in Endpoints())
        {
            // The subnet's network is made per request, so each valid subnet has a network of its own.
            async Task<string> Prepare(string n)
            {
                if (endpoint.Name == "subnet")
                    Assert.Equal(201, (await _w.Member.Post("/v1/networks", new { name = $"n-sub{n}", type = "vxlan" })).Status);
                return endpoint.Body(n);
            }
            var first = Unique();
            var valid = await Prepare(first);
            var (okStatus, okBody) = await SendAsync(endpoint.Caller(), endpoint.Method, await endpoint.Path(), valid, "application/json");
            Assert.True(okStatus is >= 200 and < 300, $"{endpoint.Name}: the valid body was refused: {okStatus} {okBody}");
            foreach (var mutation in Mutations(valid, (endpoint.Maps ?? []).ToHashSet(), endpoint.Versioned))
            {
                var n = Unique();
                var body = mutation.Text.Replace(first, n, StringComparison.Ordinal);
                await Prepare(n);
                var path = await endpoint.Path();
                var before = await SnapshotAsync();
                var (status, answer) = await SendAsync(endpoint.Caller(), endpoint.Method, path, body, mutation.ContentType, mutation.Chunked);
                tried++;
                var problem = Judge(status, answer, mutation);
                if (problem is null && status >= 400 && await SnapshotAsync() != before)
                    problem = "refused, but the store changed";
                if (problem is not null)
                    failures.Add($"{endpoint.Name}: {mutation.What}: {problem}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {tried} broken bodies were answered wrongly:\n{string.Join("\n", failures.Take(60))}");
        Assert.True(tried > 300, $"only {tried} bodies tried");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_over_8_MiB_is_413_too_large_with_or_without_a_length(bool chunked)
    {
        // 9 MiB of well-formed JSON: its size is checked first, before anything reads what it says.
        var text = new StringBuilder("""{"name": "big", "type": "vxlan", "tags": [""");
        while (text.Length < 9 << 20)
            text.Append("\"").Append('x', 990).Append("\",");
        text.Append("\"x\"]}");
        var before = await SnapshotAsync();
        var (status, answer) = await SendAsync(_w.Member, HttpMethod.Post, "/v1/networks", text.ToString(), "application/json", chunked);
        Assert.True(status == 413, $"{status} {answer[..Math.Min(answer.Length, 300)]}");
        var error = JsonDocument.Parse(answer).RootElement.GetProperty("error");
        Assert.Equal(("too-large", "body"), (error.Str("code"), error.Str("field")));
        Assert.Equal(before, await SnapshotAsync());
        // The server goes on answering.
        Assert.Equal(200, (await _w.Member.Get("/v1/networks")).Status);
    }

    /// <summary>A body sent without a Content-Length, in pieces of 1,000 bytes.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        private const int Piece = 1000;

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (var i = 0; i < bytes.Length; i += Piece)
                await stream.WriteAsync(bytes.AsMemory(i, Math.Min(Piece, bytes.Length - i)));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>What is wrong with an answer to a broken body, or null when it is right.</summary>
    private static string? Judge(int status, string answer, Case mutation)
    {
        var brief = answer.Length > 300 ? answer[..300] + "…" : answer;
        if (status >= 500)
            return $"{status} {brief}";
        if (status is >= 200 and < 300)
            return mutation.MayBeAccepted ? null : $"accepted ({status})";
        JsonElement error;
        try
        {
            error = JsonDocument.Parse(answer).RootElement.GetProperty("error");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"{status} without the documented error body: '{brief}'";
        }
        if (error.GetProperty("status").GetInt32() != status || string.IsNullOrEmpty(error.GetProperty("code").GetString())
            || string.IsNullOrEmpty(error.GetProperty("message").GetString()))
            return $"{status} with an incomplete error body: {brief}";
        if (status == 400 && error.GetProperty("field").ValueKind != JsonValueKind.String && error.GetProperty("details").GetArrayLength() == 0)
            return $"400 naming no field: {brief}";
        if (answer.Length > 16 << 10)
            return $"{status} with a {answer.Length}-character answer (the input echoed)";
        return null;
    }
}
