using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Namespaces;
using Vireo.Net.Netlink;

namespace Vireo.Engine.Networks;

/// <summary>
/// Virtual networks: definitions under <see cref="VireoPaths.Networks"/> (<c>NAME.xml</c>, <c>NAME.autostart</c>),
/// runtime records and dnsmasq files under <see cref="VireoPaths.RunNetworks"/>. Every mutation holds one lock for
/// all networks — they share the firewall table, bridge names and subnets, so checks and changes must not
/// interleave — and begins by reconciling what a killed command may have left behind.
/// </summary>
public sealed partial class NetworkManager
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly VireoPaths _paths;

    public NetworkManager(VireoPaths paths)
    {
        _paths = paths;
    }

    public VireoPaths Paths => _paths;

    /// <summary>
    /// The namespace whose links and routes the definition checks consult; null means this process's. Tests point
    /// it at a private namespace. Starting a network always acts on this process's namespace.
    /// </summary>
    public NetNamespace? HostChecksNamespace { get; init; }

    private RtNetlink OpenChecks() => HostChecksNamespace?.OpenRtNetlink() ?? RtNetlink.Open();

    private string DefinitionPath(string name) => Path.Combine(_paths.Networks, ObjectName.Validate(name, "network") + ".xml");

    private string AutostartPath(string name) => Path.Combine(_paths.Networks, name + ".autostart");

    private NetworkRunFiles Run(string name) => new(_paths, ObjectName.Validate(name, "network"));

    private ObjectLock Lock() => ObjectLock.Acquire(_paths.LockFile("network", "all"), LockTimeout, "the networks");

    /// <summary>Defines (or redefines) a persistent network; refused before anything is written if invalid.</summary>
    public NetworkDefinition Define(string xml)
    {
        var def = NetworkXml.Parse(xml);
        using var l = Lock();
        ReconcileAllLocked();
        var existing = LoadDefinition(def.Name);
        if (existing is not null && existing.Uuid != def.Uuid && xml.Contains("<uuid", StringComparison.Ordinal))
        {
            throw new VireoException(ErrorKind.AlreadyExists, $"network '{def.Name}' already exists with uuid {existing.Uuid}");
        }

        if (existing is not null && !xml.Contains("<uuid", StringComparison.Ordinal))
        {
            def = def with { Uuid = existing.Uuid };
        }

        def = Complete(def);
        NetworkValidator.Validate(def);
        CheckAgainstOthers(def);
        NetworkHostChecks.CheckDefinition(OpenChecks, def, activeBridgeOfThis: LoadRecord(def.Name)?.Bridge);
        AtomicFile.WriteAllText(DefinitionPath(def.Name), NetworkXml.ToXml(def));
        return def;
    }

    public void Undefine(string name)
    {
        using var l = Lock();
        ReconcileLocked(name);
        if (LoadDefinition(name) is null)
        {
            throw NotFound(name);
        }

        AtomicFile.Delete(AutostartPath(name));
        AtomicFile.Delete(DefinitionPath(name));
        if (LoadRecord(name) is { } rec)
        {
            // An active network stays up, now transient, as in libvirt.
            (rec with { Persistent = false }).Save(Run(name).Status);
        }
    }

    public void SetAutostart(string name, bool enable)
    {
        using var l = Lock();
        if (LoadDefinition(name) is null)
        {
            throw LoadRecord(name) is null ? NotFound(name) : VireoException.State($"network '{name}' is transient; cannot set autostart");
        }

        if (enable)
        {
            AtomicFile.WriteAllText(AutostartPath(name), "");
        }
        else
        {
            AtomicFile.Delete(AutostartPath(name));
        }
    }

    /// <summary>Persistent and transient networks, active ones reconciled first.</summary>
    public IReadOnlyList<NetworkInfo> List()
    {
        using (Lock())
        {
            ReconcileAllLocked();
        }

        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(_paths.Networks))
        {
            foreach (string f in Directory.GetFiles(_paths.Networks, "*.xml"))
            {
                names.Add(Path.GetFileNameWithoutExtension(f));
            }
        }

        if (Directory.Exists(_paths.RunNetworks))
        {
            foreach (string d in Directory.GetDirectories(_paths.RunNetworks))
            {
                if (File.Exists(Path.Combine(d, "status.xml")))
                {
                    names.Add(Path.GetFileName(d));
                }
            }
        }

        return names.Select(TryGetInfo).OfType<NetworkInfo>().ToList();
    }

    public NetworkInfo GetInfo(string name) => TryGetInfo(name) ?? throw NotFound(name);

    private NetworkInfo? TryGetInfo(string name)
    {
        var rec = LoadRecord(name);
        var def = rec?.Definition ?? LoadDefinition(name);
        if (def is null)
        {
            return null;
        }

        bool persistent = File.Exists(DefinitionPath(name));
        return new NetworkInfo(def.Name, def.Uuid, rec?.State == NetworkRunState.Active, persistent,
            persistent && File.Exists(AutostartPath(name)), rec?.Bridge ?? BridgeOf(def), def.Forward.Mode, rec?.State);
    }

    /// <summary>The live definition when active (unless <paramref name="inactive"/>), else the persistent one.</summary>
    public NetworkDefinition GetDefinition(string name, bool inactive = false)
    {
        if (!inactive && LoadRecord(name) is { State: NetworkRunState.Active } rec)
        {
            return rec.Definition;
        }

        return LoadDefinition(name) ?? LoadRecord(name)?.Definition ?? throw NotFound(name);
    }

    /// <summary>The bridge of an active network, for interface plumbing; an inactive network is an error naming it.</summary>
    public NetworkRecord GetActive(string name)
    {
        var rec = LoadRecord(name);
        if (rec is not { State: NetworkRunState.Active })
        {
            if (rec is null && LoadDefinition(name) is null)
            {
                throw NotFound(name);
            }

            throw VireoException.State($"network '{name}' is not active (start it with 'vireo net-start {name}')");
        }

        return rec;
    }

    private NetworkDefinition? LoadDefinition(string name)
    {
        string path = DefinitionPath(name);
        return File.Exists(path) ? NetworkXml.Parse(File.ReadAllText(path)) : null;
    }

    private NetworkRecord? LoadRecord(string name) => NetworkRecord.Load(Run(name).Status);

    private IEnumerable<NetworkRecord> AllRecords()
    {
        if (!Directory.Exists(_paths.RunNetworks))
        {
            yield break;
        }

        foreach (string d in Directory.GetDirectories(_paths.RunNetworks))
        {
            if (NetworkRecord.Load(Path.Combine(d, "status.xml")) is { } r)
            {
                yield return r;
            }
        }
    }

    private IEnumerable<NetworkDefinition> AllDefinitions()
    {
        if (!Directory.Exists(_paths.Networks))
        {
            yield break;
        }

        foreach (string f in Directory.GetFiles(_paths.Networks, "*.xml"))
        {
            yield return NetworkXml.Parse(File.ReadAllText(f));
        }
    }

    private static string? BridgeOf(NetworkDefinition def) => def.Bridge?.Name;

    /// <summary>libvirt's defaults: a managed bridge without a name gets the first free <c>virbrN</c>.</summary>
    private NetworkDefinition Complete(NetworkDefinition def)
    {
        if (!def.HasManagedBridge || def.Bridge?.Name is not null)
        {
            return def;
        }

        var taken = new HashSet<string>(AllDefinitions().Where(d => d.Name != def.Name).Select(d => d.Bridge?.Name).OfType<string>(), StringComparer.Ordinal);
        taken.UnionWith(AllRecords().Select(r => r.Bridge).OfType<string>());
        for (int i = 0; ; i++)
        {
            string candidate = $"virbr{i}";
            if (!taken.Contains(candidate) && !NetworkHostChecks.LinkExists(OpenChecks, candidate))
            {
                return def with { Bridge = (def.Bridge ?? new NetworkBridge()) with { Name = candidate } };
            }
        }
    }

    /// <summary>Another network (defined or active) must not claim the same bridge, uuid or an overlapping subnet.</summary>
    private void CheckAgainstOthers(NetworkDefinition def)
    {
        var others = AllDefinitions().Concat(AllRecords().Select(r => r.Definition)).Where(o => o.Name != def.Name);
        foreach (var other in others)
        {
            if (other.Uuid == def.Uuid)
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"network '{def.Name}': uuid {def.Uuid} is already used by network '{other.Name}'");
            }

            if (def.HasManagedBridge && def.Bridge?.Name is { } br && other.HasManagedBridge && other.Bridge?.Name == br)
            {
                throw VireoException.Invalid($"network '{def.Name}': <bridge name> '{br}' is already used by network '{other.Name}'");
            }

            foreach (var ip in def.Ips)
            {
                foreach (var oip in other.Ips)
                {
                    if (ip.Subnet.Overlaps(oip.Subnet))
                    {
                        throw VireoException.Invalid(
                            $"network '{def.Name}': <ip address='{ip.Address}'> subnet {ip.Subnet} collides with {oip.Subnet} of network '{other.Name}'");
                    }
                }
            }
        }
    }

    private static VireoException NotFound(string name) => VireoException.NotFound($"network '{name}' does not exist");
}
