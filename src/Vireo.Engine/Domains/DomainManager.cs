using System.Globalization;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Engine.Domains;

/// <summary>
/// Domains' whole life without a daemon. Every mutating operation takes the domain's lock (a flock, so
/// several vireo processes are serialized and a killed one never leaves it held); reads reconcile first,
/// so a QEMU that died while nobody watched is seen as stopped and its resources are released.
/// Split by concern: definitions and queries here, <c>.Start</c>, <c>.Control</c>, <c>.Reconcile</c>.
/// </summary>
public sealed partial class DomainManager
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public DomainManager(VireoPaths paths, DomainHostServices? services = null)
    {
        Paths = paths;
        Store = new DomainStore(paths);
        Services = services ?? new DomainHostServices();
    }

    public VireoPaths Paths { get; }

    public DomainStore Store { get; }

    public DomainHostServices Services { get; }

    /// <summary>Defines (or redefines, keeping the uuid) a persistent domain from XML.</summary>
    public (DomainDefinition Definition, bool Created) Define(string xml)
    {
        var def = DomainDefinition.Parse(xml);
        ObjectName.Validate(def.Name, "domain");
        using var all = LockAll();
        using var one = LockDomain(def.Name);
        CheckUnique(def, allowSameName: true);
        bool created = Store.LoadPersistent(def.Name) is null;
        Store.SavePersistent(def);
        return (def, created);
    }

    /// <summary>Removes a persistent definition; an active domain keeps running as a transient one.</summary>
    public string Undefine(string nameOrId)
    {
        string name = ResolveName(nameOrId);
        using var all = LockAll();
        using var one = LockDomain(name);
        if (Store.LoadPersistent(name) is null)
        {
            throw VireoException.State($"cannot undefine transient domain '{name}'");
        }

        Store.DeletePersistent(name);
        var record = Store.LoadRecord(name);
        if (record is not null)
        {
            Store.SaveRecord(record with { Transient = true });
        }
        else
        {
            Store.ClearRuntime(name, keepLastState: false);
        }

        return name;
    }

    public IReadOnlyList<DomainInfo> List()
    {
        var names = new SortedSet<string>(Store.PersistentNames(), StringComparer.Ordinal);
        names.UnionWith(Store.ActiveNames());
        var list = new List<DomainInfo>(names.Count);
        foreach (string name in names)
        {
            var info = TryGetInfo(name);
            if (info is not null)
            {
                list.Add(info);
            }
        }

        return list;
    }

    public DomainInfo GetInfo(string nameOrId) =>
        TryGetInfo(ResolveName(nameOrId)) ?? throw NoDomain(nameOrId);

    /// <summary>The definition as it runs (live) or as stored (<paramref name="inactive"/>).</summary>
    public DomainDefinition GetDefinition(string nameOrId, bool inactive)
    {
        string name = ResolveName(nameOrId);
        var record = ReconcileIfDead(name);
        if (!inactive && record is not null)
        {
            return Store.LoadLive(name) ?? throw NoDomain(nameOrId);
        }

        return Store.LoadPersistent(name) ?? Store.LoadLive(name) ?? throw NoDomain(nameOrId);
    }

    public void SetAutostart(string nameOrId, bool on)
    {
        string name = ResolveName(nameOrId);
        using var one = LockDomain(name);
        if (Store.LoadPersistent(name) is null)
        {
            throw VireoException.State($"cannot set autostart for transient domain '{name}'");
        }

        Store.SetAutostart(name, on);
    }

    /// <summary>Accepts a name, a numeric id of an active domain, or a uuid, as virsh does.</summary>
    public string ResolveName(string nameOrId)
    {
        if (string.IsNullOrEmpty(nameOrId))
        {
            throw VireoException.Invalid("domain name must not be empty");
        }

        if (nameOrId.Contains('/', StringComparison.Ordinal) || nameOrId.Contains('\0', StringComparison.Ordinal) || nameOrId is "." or "..")
        {
            throw NoDomain(nameOrId);
        }

        if (File.Exists(Store.DefinitionPath(nameOrId)) || File.Exists(Store.RecordPath(nameOrId)))
        {
            return nameOrId;
        }

        if (int.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            foreach (string active in Store.ActiveNames())
            {
                if (Store.LoadRecord(active)?.Id == id)
                {
                    return active;
                }
            }
        }

        if (Guid.TryParse(nameOrId, out var uuid))
        {
            foreach (string n in Store.PersistentNames().Concat(Store.ActiveNames()))
            {
                if (UuidOf(n) == uuid)
                {
                    return n;
                }
            }
        }

        throw NoDomain(nameOrId);
    }

    internal static VireoException NoDomain(string nameOrId) =>
        VireoException.NotFound($"failed to get domain '{nameOrId}': no domain with matching name, id or uuid");

    internal ObjectLock LockDomain(string name) =>
        ObjectLock.Acquire(Paths.LockFile("domain", name), LockTimeout, $"domain '{name}'");

    /// <summary>Serializes changes to the set of domains (names, uuids, ids).</summary>
    internal ObjectLock LockAll() =>
        ObjectLock.Acquire(Paths.LockFile("domains", "all"), LockTimeout, "the domain list");

    private Guid? UuidOf(string name)
    {
        var record = Store.LoadRecord(name);
        if (record is not null)
        {
            return record.Uuid;
        }

        return Store.LoadPersistent(name)?.Uuid;
    }

    private void CheckUnique(DomainDefinition def, bool allowSameName)
    {
        foreach (string other in Store.PersistentNames().Concat(Store.ActiveNames()).Distinct())
        {
            Guid? uuid = UuidOf(other);
            if (other == def.Name)
            {
                if (!allowSameName)
                {
                    throw new VireoException(ErrorKind.AlreadyExists, $"domain '{def.Name}' already exists with uuid {uuid}");
                }

                if (uuid is Guid u && u != def.Uuid)
                {
                    throw new VireoException(ErrorKind.AlreadyExists, $"domain '{def.Name}' already exists with uuid {u}");
                }
            }
            else if (uuid == def.Uuid)
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"domain '{other}' already has uuid {def.Uuid}");
            }
        }
    }

    private DomainInfo? TryGetInfo(string name)
    {
        var record = ReconcileIfDead(name);
        bool persistent = File.Exists(Store.DefinitionPath(name));
        if (record is not null)
        {
            var live = Store.LoadLive(name);
            if (live is null)
            {
                return null;
            }

            return new DomainInfo(live, record.Id, new DomainStatus(record.State, record.Reason), persistent && !record.Transient,
                Store.IsAutostart(name), ProcessInfo.CpuTimeSeconds(record.Pid), record.Pid);
        }

        var def = Store.LoadPersistent(name);
        if (def is null)
        {
            return null;
        }

        var last = Store.LoadLastState(name) ?? DomainStatus.ShutoffUnknown;
        return new DomainInfo(def, null, last, true, Store.IsAutostart(name), null, null);
    }
}
