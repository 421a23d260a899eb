using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>
/// Where pools are remembered. Persistent definitions: <c>pools/NAME.xml</c>; autostart: <c>pools/autostart/NAME</c>;
/// active pools (persistent or transient): <c>run/pools/NAME.xml</c>, the definition the pool was started with,
/// under the runtime root so a reboot leaves every pool inactive, as it leaves every mount undone.
/// </summary>
internal sealed class PoolStore
{
    private readonly VireoPaths _paths;

    public PoolStore(VireoPaths paths) => _paths = paths;

    public string RunPools => Path.Combine(_paths.Runtime, "pools");

    private string AutostartDir => Path.Combine(_paths.Pools, "autostart");

    private string DefinitionFile(string name) => Path.Combine(_paths.Pools, ObjectName.Validate(name, "storage pool") + ".xml");

    private string ActiveFile(string name) => Path.Combine(RunPools, ObjectName.Validate(name, "storage pool") + ".xml");

    private string AutostartFile(string name) => Path.Combine(AutostartDir, ObjectName.Validate(name, "storage pool"));

    public ObjectLock Lock(string name) =>
        ObjectLock.Acquire(_paths.LockFile("pool", ObjectName.Validate(name, "storage pool")), TimeSpan.FromSeconds(60), $"storage pool '{name}'");

    public StoragePoolDefinition? Persistent(string name) => Load(DefinitionFile(name));

    public StoragePoolDefinition? Active(string name) => Load(ActiveFile(name));

    public bool IsAutostart(string name) => File.Exists(AutostartFile(name));

    public void SavePersistent(StoragePoolDefinition def) => AtomicFile.WriteAllText(DefinitionFile(def.Name), def.ToXml());

    public void RemovePersistent(string name)
    {
        AtomicFile.Delete(DefinitionFile(name));
        AtomicFile.Delete(AutostartFile(name));
    }

    public void SaveActive(StoragePoolDefinition def) => AtomicFile.WriteAllText(ActiveFile(def.Name), def.ToXml());

    public void RemoveActive(string name) => AtomicFile.Delete(ActiveFile(name));

    public void SetAutostart(string name, bool on)
    {
        if (on)
        {
            AtomicFile.WriteAllText(AutostartFile(name), "");
        }
        else
        {
            AtomicFile.Delete(AutostartFile(name));
        }
    }

    /// <summary>Names of every known pool, persistent or active, sorted.</summary>
    public IReadOnlyList<string> Names()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string dir in new[] { _paths.Pools, RunPools })
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (string f in Directory.EnumerateFiles(dir, "*.xml"))
            {
                string n = Path.GetFileNameWithoutExtension(f);
                if (!n.StartsWith('.'))
                {
                    names.Add(n);
                }
            }
        }

        return [.. names];
    }

    /// <summary>True the first time storage is used under this root: then the default pool is made.</summary>
    public bool FirstUse(out Action markDone)
    {
        string marker = Path.Combine(_paths.Pools, ".initialized");
        markDone = () => AtomicFile.WriteAllText(marker, "default pool created\n");
        return !File.Exists(marker);
    }

    private static StoragePoolDefinition? Load(string file)
    {
        string xml;
        try
        {
            xml = File.ReadAllText(file);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            return StoragePoolDefinition.Parse(xml);
        }
        catch (VireoException e)
        {
            throw new VireoException(ErrorKind.Corrupt, $"stored storage pool definition '{file}' is damaged: {e.Message}");
        }
    }
}
