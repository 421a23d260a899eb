using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>
/// Storage pools and their volumes: what virsh's pool-* and vol-* commands do. Every change to a pool runs
/// under that pool's <see cref="ObjectLock"/>, so concurrent vireo processes serialize per pool.
/// </summary>
public sealed partial class StoragePoolManager
{
    public const string DefaultPoolName = "default";

    private readonly VireoPaths _paths;
    private readonly PoolStore _store;
    private readonly IVolumeUsage _usage;
    private bool _ready;

    public StoragePoolManager(VireoPaths paths, IVolumeUsage? usage = null)
    {
        _paths = paths;
        _store = new PoolStore(paths);
        _usage = usage ?? NoVolumeUsage.Instance;
    }

    /// <summary>
    /// Runs once per manager: on the first use of a state root, define and start the <c>default</c> dir pool under
    /// <c>$VIREO_ROOT/images</c> (as libvirt does); after a reboot, start autostart pools (there is no daemon to).
    /// </summary>
    private void EnsureReady()
    {
        if (_ready)
        {
            return;
        }

        _ready = true;
        if (_store.FirstUse(out var markDone))
        {
            string dir = Path.Combine(_paths.Root, "images");
            string xml = $"<pool type='dir'><name>{DefaultPoolName}</name><target><path>{System.Security.SecurityElement.Escape(dir)}</path>" +
                "<permissions><mode>0711</mode></permissions></target></pool>";
            if (_store.Persistent(DefaultPoolName) is null)
            {
                var def = StoragePoolDefinition.Parse(xml);
                using (_store.Lock(DefaultPoolName))
                {
                    _store.SavePersistent(def);
                    _store.SetAutostart(DefaultPoolName, true);
                }
            }

            markDone();
        }

        foreach (string name in _store.Names())
        {
            if (_store.IsAutostart(name) && _store.Active(name) is null && _store.Persistent(name) is { } def)
            {
                try
                {
                    using var l = _store.Lock(name);
                    var driver = PoolDriver.For(def);
                    if (def.Type == StoragePoolType.Dir)
                    {
                        driver.Build(def, PoolBuildMode.Default);
                    }

                    driver.Start(def);
                    _store.SaveActive(def);
                }
                catch (VireoException)
                {
                    // An autostart pool that cannot start stays inactive; pool-start reports why.
                }
            }
        }
    }

    public StoragePoolDefinition Define(string xml)
    {
        EnsureReady();
        var def = StoragePoolDefinition.Parse(xml);
        _ = PoolDriver.For(def);
        using var l = _store.Lock(def.Name);
        var existing = _store.Persistent(def.Name) ?? _store.Active(def.Name);
        if (existing is not null)
        {
            if (existing.Uuid != def.Uuid && xml.Contains("<uuid>", StringComparison.Ordinal))
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"storage pool '{def.Name}' already exists with uuid {existing.Uuid}");
            }

            // Redefining keeps the uuid, as libvirt does.
            def = def with { Uuid = existing.Uuid };
        }

        CheckNoDuplicate(def);
        _store.SavePersistent(def);
        return def;
    }

    /// <summary>pool-create: a transient pool, started (and built first when <paramref name="build"/>).</summary>
    public StoragePoolDefinition Create(string xml, PoolBuildMode? build = null)
    {
        EnsureReady();
        var def = StoragePoolDefinition.Parse(xml);
        var driver = PoolDriver.For(def);
        using var l = _store.Lock(def.Name);
        if (_store.Persistent(def.Name) is not null || _store.Active(def.Name) is not null)
        {
            throw new VireoException(ErrorKind.AlreadyExists, $"storage pool '{def.Name}' already exists");
        }

        CheckNoDuplicate(def);
        if (build is { } mode)
        {
            driver.Build(def, mode);
        }

        driver.Start(def);
        _store.SaveActive(def);
        return def;
    }

    public void Build(string name, PoolBuildMode mode)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        var def = Persistent(name);
        if (_store.Active(name) is not null)
        {
            throw VireoException.State($"storage pool '{name}' is active; destroy it before building");
        }

        PoolDriver.For(def).Build(def, mode);
    }

    public void Start(string name, PoolBuildMode? build = null)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        var def = Persistent(name);
        if (_store.Active(name) is not null)
        {
            throw VireoException.State($"storage pool '{name}' is already active");
        }

        var driver = PoolDriver.For(def);
        if (build is { } mode)
        {
            driver.Build(def, mode);
        }

        driver.Start(def);
        _store.SaveActive(def);
    }

    /// <summary>Stops a pool; refused while running domains use its volumes unless <paramref name="force"/>.</summary>
    public void Destroy(string name, bool force = false)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        var def = ActiveDefinition(name);
        if (!force)
        {
            var users = UsersOfPool(def).ToList();
            if (users.Count > 0)
            {
                throw VireoException.State($"storage pool '{name}' has volumes in use by running domains ({string.Join(", ", users.Select(u => $"'{u.domain}' uses {u.path}"))}); use --force to destroy it anyway");
            }
        }

        PoolDriver.For(def).Stop(def);
        _store.RemoveActive(name);
    }

    /// <summary>pool-delete: removes the pool's storage (directory, volume group); the pool must be inactive.</summary>
    public void Delete(string name)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        var def = Persistent(name);
        if (_store.Active(name) is not null)
        {
            throw VireoException.State($"storage pool '{name}' is active; destroy it before deleting its storage");
        }

        PoolDriver.For(def).Delete(def);
    }

    public void Undefine(string name)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        _ = Persistent(name);
        _store.RemovePersistent(name);
    }

    public void SetAutostart(string name, bool on)
    {
        EnsureReady();
        using var l = _store.Lock(name);
        _ = Persistent(name);
        _store.SetAutostart(name, on);
    }

    /// <summary>Every pool with its state and live figures (zeroes when inactive), sorted by name.</summary>
    public IReadOnlyList<PoolStatus> List()
    {
        EnsureReady();
        return _store.Names().Select(Status).ToList();
    }

    public PoolStatus Info(string name)
    {
        EnsureReady();
        return Status(name);
    }

    /// <summary>pool-refresh: re-reads the pool's storage (nothing is cached, so this checks it is reachable).</summary>
    public void Refresh(string name)
    {
        EnsureReady();
        var def = ActiveDefinition(name);
        _ = PoolDriver.For(def).Figures(def);
    }

    /// <summary>pool-dumpxml: the live definition with figures, or with <paramref name="inactive"/> the persistent one.</summary>
    public string DumpXml(string name, bool inactive = false)
    {
        EnsureReady();
        var active = _store.Active(name);
        if (inactive || active is null)
        {
            var def = _store.Persistent(name) ?? active ?? throw PoolNotFound(name);
            return def.ToXml();
        }

        return active.ToXml(PoolDriver.For(active).Figures(active));
    }

    /// <summary>The definition users edit (pool-edit): the persistent one when there is one.</summary>
    public StoragePoolDefinition GetDefinition(string name)
    {
        EnsureReady();
        return _store.Persistent(name) ?? _store.Active(name) ?? throw PoolNotFound(name);
    }

    private PoolStatus Status(string name)
    {
        var persistent = _store.Persistent(name);
        var active = _store.Active(name);
        var def = active ?? persistent ?? throw PoolNotFound(name);
        StoragePoolFigures f = default;
        if (active is not null)
        {
            try
            {
                f = PoolDriver.For(active).Figures(active);
            }
            catch (VireoException)
            {
                // A pool whose storage vanished still lists; pool-refresh says what is wrong.
            }
        }

        return new PoolStatus(name, def.Uuid, def.Type.ToXml(), active is not null, persistent is not null, _store.IsAutostart(name),
            f.Capacity, f.Allocation, f.Available);
    }

    private StoragePoolDefinition Persistent(string name) =>
        _store.Persistent(name) ?? (_store.Active(name) is not null
            ? throw VireoException.State($"storage pool '{name}' is transient (created with pool-create); it has no persistent definition")
            : throw PoolNotFound(name));

    internal StoragePoolDefinition ActiveDefinition(string name) =>
        _store.Active(name) ?? (_store.Persistent(name) is not null
            ? throw VireoException.State($"storage pool '{name}' is not active (start it with pool-start)")
            : throw PoolNotFound(name));

    private static VireoException PoolNotFound(string name) =>
        VireoException.NotFound($"storage pool '{ObjectName.Validate(name, "storage pool")}' not found");

    /// <summary>Two pools on one directory or volume group would see each other's volumes: refuse, as libvirt does.</summary>
    private void CheckNoDuplicate(StoragePoolDefinition def)
    {
        foreach (string other in _store.Names())
        {
            if (other == def.Name)
            {
                continue;
            }

            var o = _store.Persistent(other) ?? _store.Active(other);
            if (o is null)
            {
                continue;
            }

            if (o.Uuid == def.Uuid)
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"storage pool '{def.Name}': uuid {def.Uuid} is already used by pool '{other}'");
            }

            if (o.Target?.Path is { } p && p == def.Target?.Path)
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"storage pool '{def.Name}': target '{p}' is already used by pool '{other}'");
            }
        }
    }

    private IEnumerable<(string domain, string path)> UsersOfPool(StoragePoolDefinition def)
    {
        string prefix = def.TargetPath.TrimEnd('/') + "/";
        return _usage.InUse().Where(u => Path.GetFullPath(u.path).StartsWith(prefix, StringComparison.Ordinal));
    }
}

public sealed partial class StoragePoolManager
{
    /// <summary>A pool argument as virsh takes it: a name, or a uuid.</summary>
    public string ResolvePoolName(string nameOrUuid)
    {
        EnsureReady();
        var names = _store.Names();
        if (names.Contains(nameOrUuid))
        {
            return nameOrUuid;
        }

        if (Guid.TryParse(nameOrUuid, out var uuid))
        {
            foreach (string n in names)
            {
                var def = _store.Active(n) ?? _store.Persistent(n);
                if (def?.Uuid == uuid)
                {
                    return n;
                }
            }
        }

        throw PoolNotFound(nameOrUuid);
    }
}
