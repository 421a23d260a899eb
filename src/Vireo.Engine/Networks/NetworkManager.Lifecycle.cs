using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Dnsmasq;
using Vireo.Net.Firewall;
using Vireo.Net.Netlink;
using Vireo.Net.Ovs;

namespace Vireo.Engine.Networks;

public sealed partial class NetworkManager
{
    private string FirewallScript => Path.Combine(_paths.RunNetworks, "vireo.nft");

    /// <summary>Starts a defined network: bridge, addresses, dnsmasq, firewall — all or nothing.</summary>
    public async Task<NetworkDefinition> StartAsync(string name, CancellationToken ct = default)
    {
        using var l = Lock();
        await ReconcileLockedAsync(name, ct).ConfigureAwait(false);
        if (LoadRecord(name) is not null)
        {
            throw VireoException.State($"network '{name}' is already active");
        }

        var def = LoadDefinition(name) ?? throw NotFound(name);
        await StartLockedAsync(def, persistent: true, ct).ConfigureAwait(false);
        return def;
    }

    /// <summary><c>net-create</c>: starts a transient network from XML; it is forgotten when destroyed.</summary>
    public async Task<NetworkDefinition> CreateAsync(string xml, CancellationToken ct = default)
    {
        var def = NetworkXml.Parse(xml);
        using var l = Lock();
        await ReconcileAllLockedAsync(ct).ConfigureAwait(false);
        if (LoadRecord(def.Name) is not null || LoadDefinition(def.Name) is not null)
        {
            throw new VireoException(ErrorKind.AlreadyExists, $"network '{def.Name}' already exists");
        }

        def = Complete(def);
        NetworkValidator.Validate(def);
        CheckAgainstOthers(def);
        await StartLockedAsync(def, persistent: false, ct).ConfigureAwait(false);
        return def;
    }

    /// <summary>Stops a network and removes its bridge, dnsmasq and rules.</summary>
    public async Task DestroyAsync(string name, CancellationToken ct = default)
    {
        using var l = Lock();
        await ReconcileLockedAsync(name, ct).ConfigureAwait(false);
        var rec = LoadRecord(name);
        if (rec is null)
        {
            throw LoadDefinition(name) is null ? NotFound(name) : VireoException.State($"network '{name}' is not active");
        }

        await TeardownAsync(rec, ct).ConfigureAwait(false);
    }

    /// <summary>Starts every autostart network that is not active (what a boot-time unit calls).</summary>
    public async Task<IReadOnlyList<string>> AutostartAsync(CancellationToken ct = default)
    {
        var started = new List<string>();
        foreach (var info in List().Where(i => i.Autostart && !i.Active))
        {
            await StartAsync(info.Name, ct).ConfigureAwait(false);
            started.Add(info.Name);
        }

        return started;
    }

    private async Task StartLockedAsync(NetworkDefinition def, bool persistent, CancellationToken ct)
    {
        NetworkValidator.Validate(def);
        NetworkHostChecks.CheckDefinition(RtNetlink.Open, def, activeBridgeOfThis: null);
        string? bridge = def.Bridge?.Name;
        await CheckExternalBridgeAsync(def, ct).ConfigureAwait(false);

        var files = Run(def.Name);
        Directory.CreateDirectory(files.Directory);
        var rec = new NetworkRecord(NetworkRunState.Starting, bridge, def.HasManagedBridge, persistent, def);
        rec.Save(files.Status);
        try
        {
            if (def.HasManagedBridge)
            {
                CreateBridge(def, bridge!);
                EnableForwarding(def);
                await StartDnsmasqAsync(def, bridge!, files, ct).ConfigureAwait(false);
            }

            rec = rec with { State = NetworkRunState.Active };
            rec.Save(files.Status);
            await ApplyFirewallAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await TeardownAsync(rec, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task CheckExternalBridgeAsync(NetworkDefinition def, CancellationToken ct)
    {
        if (def.Forward.Mode != ForwardMode.Bridge)
        {
            return;
        }

        string n = $"network '{def.Name}'";
        if (def.IsOpenVSwitch)
        {
            string br = def.Bridge?.Name ?? throw VireoException.Invalid($"{n}: an Open vSwitch network needs <bridge name> (the OVS bridge)");
            if (!await new OvsVsctl().BridgeExistsAsync(br, ct).ConfigureAwait(false))
            {
                throw VireoException.Invalid($"{n}: <bridge name> '{br}' is not an Open vSwitch bridge (create it with ovs-vsctl add-br)");
            }

            return;
        }

        if (def.Bridge?.Name is { } hostBridge)
        {
            using var nl = RtNetlink.Open();
            if (nl.FindLink(hostBridge) is not { } link || link.Kind != "bridge")
            {
                throw VireoException.Invalid($"{n}: <bridge name> '{hostBridge}' is not an existing Linux bridge on this host");
            }
        }
        else if (def.Forward.Interfaces.Count == 0)
        {
            throw VireoException.Invalid($"{n}: <forward mode='bridge'> needs <bridge name> (an existing host bridge) or <forward><interface dev>");
        }
    }

    private static void CreateBridge(NetworkDefinition def, string bridge)
    {
        using var nl = RtNetlink.Open();
        var b = def.Bridge ?? new NetworkBridge();
        nl.CreateBridge(bridge, new BridgeOptions(Stp: b.Stp, ForwardDelaySeconds: (uint)b.Delay)
        {
            Mac = def.Mac is null ? null : MacAddress.Parse(def.Mac),
            Mtu = def.Mtu,
        });
        if (!def.Ipv6.Any() && !def.Ipv6NoGateway)
        {
            // No IPv6 configured: no link-local address either, so guests are not offered a v6 path through the host.
            WriteSysctl($"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6", "1");
        }
        else
        {
            // dnsmasq answers on the address as soon as it exists; duplicate address detection would delay that.
            WriteSysctl($"/proc/sys/net/ipv6/conf/{bridge}/accept_dad", "0");
        }

        foreach (var ip in def.Ips)
        {
            nl.AddAddress(bridge, ip.Address, ip.PrefixLength);
        }

        nl.SetUp(bridge);
    }

    private static void EnableForwarding(NetworkDefinition def)
    {
        if (def.Forward.Mode is not (ForwardMode.Nat or ForwardMode.Route or ForwardMode.Open))
        {
            return;
        }

        if (def.Ipv4.Any())
        {
            WriteSysctl("/proc/sys/net/ipv4/ip_forward", "1");
        }

        if (def.Ipv6.Any())
        {
            WriteSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
        }
    }

    private static void WriteSysctl(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (IOException)
        {
            // A kernel without IPv6 has no such file: nothing to set.
        }
        catch (UnauthorizedAccessException e)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot write {path}: {e.Message}");
        }
    }

    private static bool NeedsDnsmasq(NetworkDefinition def) =>
        def.Ips.Count > 0 && (def.Dns?.Enable != false || def.Ips.Any(i => i.Ranges.Count > 0 || i.Hosts.Count > 0));

    private static async Task StartDnsmasqAsync(NetworkDefinition def, string bridge, NetworkRunFiles files, CancellationToken ct)
    {
        if (!NeedsDnsmasq(def))
        {
            return;
        }

        WriteDnsmasqFiles(def, bridge, files);
        await DnsmasqProcess.StartAsync(files.DnsmasqConf, files.DnsmasqPid, ct).ConfigureAwait(false);
    }

    private static void WriteDnsmasqFiles(NetworkDefinition def, string bridge, NetworkRunFiles files)
    {
        var conf = DnsmasqConfig.Build(def, bridge, new DnsmasqPaths(files.HostsFile, files.AddnHosts, files.DnsmasqPid, files.Leases));
        State.AtomicFile.WriteAllText(files.HostsFile, conf.HostsFile);
        State.AtomicFile.WriteAllText(files.AddnHosts, conf.AddnHosts);
        State.AtomicFile.WriteAllText(files.DnsmasqConf, conf.Config);
    }

    /// <summary>Removes everything a record names, in reverse order of creation. Idempotent: each step checks first.</summary>
    private async Task TeardownAsync(NetworkRecord rec, CancellationToken ct)
    {
        var files = Run(rec.Definition.Name);
        if (rec.State != NetworkRunState.Stopping)
        {
            rec = rec with { State = NetworkRunState.Stopping };
            rec.Save(files.Status);
        }

        var errors = new List<Exception>();
        async Task Step(Func<Task> step)
        {
            try
            {
                await step().ConfigureAwait(false);
            }
            catch (Exception e) when (e is VireoException or IOException)
            {
                errors.Add(e);
            }
        }

        await Step(ApplyFirewallAsync2).ConfigureAwait(false);
        await Step(() => DnsmasqProcess.StopAsync(files.DnsmasqPid, files.DnsmasqConf, ct)).ConfigureAwait(false);
        if (rec.OwnsBridge && rec.Bridge is not null)
        {
            await Step(() =>
            {
                using var nl = RtNetlink.Open();
                nl.DeleteLinkIfExists(rec.Bridge);
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        }

        if (errors.Count > 0)
        {
            // Keep the record (state stopping) so the next command retries what failed.
            throw new VireoException(ErrorKind.OperationFailed,
                $"network '{rec.Definition.Name}' was not fully stopped: {string.Join("; ", errors.Select(e => e.Message))}");
        }

        foreach (string f in new[] { files.DnsmasqConf, files.HostsFile, files.AddnHosts, files.Leases, files.DnsmasqPid })
        {
            File.Delete(f);
        }

        State.AtomicFile.Delete(files.Status);
        try
        {
            Directory.Delete(files.Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        Task ApplyFirewallAsync2() => ApplyFirewallAsync(ct);
    }

    /// <summary>Rewrites Vireo's nft table from every record that is starting or active (never stopping).</summary>
    private async Task ApplyFirewallAsync(CancellationToken ct)
    {
        var networks = AllRecords()
            .Where(r => r.State != NetworkRunState.Stopping && r.Bridge is not null)
            .OrderBy(r => r.Definition.Name, StringComparer.Ordinal)
            .Select(r => (r.Definition.Name, FirewallRules.Build(r.Definition, r.Bridge!)))
            .Where(n => n.Item2.Count > 0)
            .ToList();
        if (networks.Count == 0 && !File.Exists(FirewallScript))
        {
            return;
        }

        await NftTable.ApplyAsync(NftTable.Script(networks), FirewallScript, ct).ConfigureAwait(false);
        if (networks.Count == 0)
        {
            File.Delete(FirewallScript);
        }
    }

    /// <summary>Finishes what a killed command left: a half-started network is torn down, a half-stopped one finished.</summary>
    private async Task ReconcileLockedAsync(string name, CancellationToken ct)
    {
        var rec = LoadRecord(name);
        if (rec is null)
        {
            return;
        }

        if (rec.State != NetworkRunState.Active)
        {
            await TeardownAsync(rec, ct).ConfigureAwait(false);
        }
        else if (rec.Bridge is not null && rec.OwnsBridge && !NetworkHostChecks.LinkExists(RtNetlink.Open, rec.Bridge))
        {
            // Someone deleted the bridge under us: the network is gone; clean up the rest.
            await TeardownAsync(rec, ct).ConfigureAwait(false);
        }
    }

    private async Task ReconcileAllLockedAsync(CancellationToken ct)
    {
        foreach (var rec in AllRecords().ToList())
        {
            await ReconcileLockedAsync(rec.Definition.Name, ct).ConfigureAwait(false);
        }
    }

    private void ReconcileAllLocked() => ReconcileAllLockedAsync(CancellationToken.None).GetAwaiter().GetResult();

    private void ReconcileLocked(string name) => ReconcileLockedAsync(name, CancellationToken.None).GetAwaiter().GetResult();
}
