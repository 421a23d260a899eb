using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Engine.Domains;

/// <summary>
/// Where domain definitions and runtime records live on disk.
/// <code>
/// $VIREO_ROOT/domains/NAME.xml            persistent definition (atomic writes)
/// $VIREO_ROOT/domains/autostart/NAME      autostart marker
/// $RUN/domains/NAME/status.json           runtime record of an active domain
/// $RUN/domains/NAME/live.xml              the definition it runs with (the only copy for a transient domain)
/// $RUN/domains/NAME/qmp.sock, qemu.log, console.log
/// $RUN/domains/NAME/last-state            state and reason after it stopped ("shut off (destroyed)")
/// </code>
/// </summary>
public sealed class DomainStore
{
    public DomainStore(VireoPaths paths) => Paths = paths;

    public VireoPaths Paths { get; }

    public string DefinitionPath(string name) => Path.Combine(Paths.Domains, name + ".xml");

    public string AutostartPath(string name) => Path.Combine(Paths.Domains, "autostart", name);

    public string RunDir(string name) => Path.Combine(Paths.RunDomains, name);

    public string RecordPath(string name) => Path.Combine(RunDir(name), "status.json");

    public string LiveXmlPath(string name) => Path.Combine(RunDir(name), "live.xml");

    public string LastStatePath(string name) => Path.Combine(RunDir(name), "last-state");

    public IEnumerable<string> PersistentNames()
    {
        if (!Directory.Exists(Paths.Domains))
        {
            return [];
        }

        return Directory.EnumerateFiles(Paths.Domains, "*.xml")
            .Select(f => Path.GetFileNameWithoutExtension(f))
            .Where(n => !n.StartsWith('.'))
            .Order(StringComparer.Ordinal);
    }

    public IEnumerable<string> ActiveNames()
    {
        if (!Directory.Exists(Paths.RunDomains))
        {
            return [];
        }

        return Directory.EnumerateDirectories(Paths.RunDomains)
            .Where(d => File.Exists(Path.Combine(d, "status.json")))
            .Select(d => Path.GetFileName(d))
            .Order(StringComparer.Ordinal);
    }

    public DomainDefinition? LoadPersistent(string name) => LoadFile(DefinitionPath(name));

    public DomainDefinition? LoadLive(string name) => LoadFile(LiveXmlPath(name));

    public void SavePersistent(DomainDefinition def) => AtomicFile.WriteAllText(DefinitionPath(def.Name), def.ToXml());

    public void SaveLive(DomainDefinition def) => AtomicFile.WriteAllText(LiveXmlPath(def.Name), def.ToXml());

    public void DeletePersistent(string name)
    {
        AtomicFile.Delete(DefinitionPath(name));
        AtomicFile.Delete(AutostartPath(name));
    }

    public bool IsAutostart(string name) => File.Exists(AutostartPath(name));

    public void SetAutostart(string name, bool on)
    {
        if (on)
        {
            AtomicFile.WriteAllText(AutostartPath(name), name + "\n");
        }
        else
        {
            AtomicFile.Delete(AutostartPath(name));
        }
    }

    public DomainRuntimeRecord? LoadRecord(string name) => DomainRuntimeRecord.Load(RecordPath(name));

    public void SaveRecord(DomainRuntimeRecord record) => record.Save(RecordPath(record.Name));

    public DomainStatus? LoadLastState(string name)
    {
        try
        {
            string[] parts = File.ReadAllText(LastStatePath(name)).Trim().Split('\t');
            if (parts.Length == 2 && DomainStatus.TryParse(parts[0], out var s))
            {
                return new DomainStatus(s, parts[1]);
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    public void SaveLastState(string name, DomainStatus status) =>
        AtomicFile.WriteAllText(LastStatePath(name), $"{status.StateName}\t{status.Reason}\n");

    /// <summary>Removes what a stopped domain left in its run directory, keeping last-state for a persistent one.</summary>
    public void ClearRuntime(string name, bool keepLastState)
    {
        string dir = RunDir(name);
        if (!Directory.Exists(dir))
        {
            return;
        }

        // The record goes first: once it is gone the domain reads as inactive, whatever else remains.
        AtomicFile.Delete(RecordPath(name));
        foreach (string f in Directory.EnumerateFiles(dir))
        {
            string file = Path.GetFileName(f);
            if (keepLastState && (file == "last-state" || file == "console.log" || file == "qemu.log"))
            {
                continue;
            }

            try
            {
                File.Delete(f);
            }
            catch (IOException)
            {
            }
        }

        if (!keepLastState)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static DomainDefinition? LoadFile(string path)
    {
        string xml;
        try
        {
            xml = File.ReadAllText(path);
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
            return DomainDefinition.Parse(xml);
        }
        catch (VireoException e)
        {
            throw new VireoException(ErrorKind.Corrupt, $"stored definition {path} no longer parses: {e.Message}");
        }
    }
}
