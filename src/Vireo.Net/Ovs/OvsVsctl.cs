using Vireo.Model;
using Vireo.Model.Networks;

namespace Vireo.Net.Ovs;

/// <summary>
/// Open vSwitch through <c>ovs-vsctl</c>, always with an argument array. <see cref="Database"/> selects the ovsdb
/// (<c>unix:/path/db.sock</c>); null means the system's. <c>VIREO_OVS_DB</c> sets it for the whole process, which is
/// how tests point Vireo at their private ovsdb-server and userspace (<c>netdev</c>) datapath.
/// </summary>
public sealed class OvsVsctl
{
    public OvsVsctl(string? database = null)
    {
        Database = database ?? NullIfEmpty(Environment.GetEnvironmentVariable("VIREO_OVS_DB"));
    }

    public string? Database { get; }

    public async Task<bool> BridgeExistsAsync(string bridge, CancellationToken ct = default)
    {
        var r = await RunAsync(["br-exists", bridge], ct).ConfigureAwait(false);
        return r.ExitCode switch
        {
            0 => true,
            2 => false,
            _ => throw Failed("br-exists", r),
        };
    }

    /// <summary>Adds a bridge; <paramref name="datapathType"/> "netdev" selects the userspace datapath.</summary>
    public Task AddBridgeAsync(string bridge, string? datapathType = null, CancellationToken ct = default)
    {
        NetworkValidator.ValidateInterfaceName(bridge, "OVS bridge name");
        var args = new List<string> { "--may-exist", "add-br", bridge };
        if (datapathType is not null)
        {
            args.AddRange(["--", "set", "Bridge", bridge, $"datapath_type={datapathType}"]);
        }

        return CheckedAsync(args, $"adding OVS bridge '{bridge}'", ct);
    }

    public Task DeleteBridgeAsync(string bridge, CancellationToken ct = default) =>
        CheckedAsync(["--if-exists", "del-br", bridge], $"deleting OVS bridge '{bridge}'", ct);

    /// <summary>
    /// Adds <paramref name="port"/> to <paramref name="bridge"/> in one transaction, with an access VLAN
    /// (<paramref name="tag"/>) or a trunk list, and external ids such as <c>iface-id</c> and <c>vm-id</c>.
    /// </summary>
    public Task AddPortAsync(string bridge, string port, int? tag = null, IReadOnlyList<int>? trunks = null,
        IReadOnlyDictionary<string, string>? externalIds = null, CancellationToken ct = default)
    {
        NetworkValidator.ValidateInterfaceName(port, "OVS port name");
        var args = new List<string> { "--", "--if-exists", "del-port", port, "--", "add-port", bridge, port };
        if (tag is int t)
        {
            args.Add($"tag={t}");
        }

        if (trunks is { Count: > 0 })
        {
            args.Add($"trunks={string.Join(',', trunks)}");
        }

        if (externalIds is { Count: > 0 })
        {
            args.AddRange(["--", "set", "Interface", port]);
            foreach (var (k, v) in externalIds)
            {
                if (k.Any(c => c is '"' or '=' or ',' || char.IsControl(c)) || v.Any(c => c is '"' || char.IsControl(c)))
                {
                    throw VireoException.Invalid($"OVS external id '{k}' has characters ovs-vsctl cannot take");
                }

                args.Add($"external_ids:{k}=\"{v}\"");
            }
        }

        return CheckedAsync(args, $"adding port '{port}' to OVS bridge '{bridge}'", ct);
    }

    public Task DeletePortAsync(string port, CancellationToken ct = default) =>
        CheckedAsync(["--if-exists", "del-port", port], $"deleting OVS port '{port}'", ct);

    public async Task<IReadOnlyList<string>> ListPortsAsync(string bridge, CancellationToken ct = default)
    {
        string output = await CheckedAsync(["list-ports", bridge], $"listing ports of OVS bridge '{bridge}'", ct).ConfigureAwait(false);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>The bridge a port belongs to, or null.</summary>
    public async Task<string?> PortToBridgeAsync(string port, CancellationToken ct = default)
    {
        var r = await RunAsync(["port-to-br", port], ct).ConfigureAwait(false);
        return r.ExitCode == 0 ? r.StdOut.Trim() : null;
    }

    public async Task<string> GetAsync(string table, string record, string column, CancellationToken ct = default) =>
        (await CheckedAsync(["get", table, record, column], $"reading {table} {record} {column}", ct).ConfigureAwait(false)).Trim();

    private async Task<string> CheckedAsync(IReadOnlyList<string> args, string what, CancellationToken ct)
    {
        var r = await RunAsync(args, ct).ConfigureAwait(false);
        return r.ExitCode == 0 ? r.StdOut : throw Failed(what, r);
    }

    private Task<ToolResult> RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        string exe = ExternalTool.Locate("ovs-vsctl", "openvswitch-switch");
        var all = new List<string> { "--timeout=10" };
        if (Database is not null)
        {
            all.Add($"--db={Database}");
        }

        all.AddRange(args);
        return ExternalTool.RunAsync(exe, all, ct: ct);
    }

    private static VireoException Failed(string what, ToolResult r) =>
        new(ErrorKind.OperationFailed, $"{what} failed (ovs-vsctl exit {r.ExitCode}): {r.StdErr.Trim()}");

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
