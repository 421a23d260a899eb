using Vireo.Engine.State;
using Vireo.Engine.Storage;

namespace Vireo.Engine.Tests.Storage;

/// <summary>A private state root per test, removed afterwards; a settable stand-in for the domain engine's usage.</summary>
public sealed class StorageRoot : IDisposable
{
    public StorageRoot()
    {
        Dir = Path.Combine(Path.GetTempPath(), "vireo-storage-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        Paths = new VireoPaths(Path.Combine(Dir, "root"), Path.Combine(Dir, "root", "run"));
        Manager = new StoragePoolManager(Paths, Usage);
    }

    public string Dir { get; }

    public VireoPaths Paths { get; }

    public StubUsage Usage { get; } = new();

    public StoragePoolManager Manager { get; }

    /// <summary>Defines, builds and starts a dir pool on a fresh directory.</summary>
    public string DirPool(string name = "p1")
    {
        string target = Path.Combine(Dir, name);
        Manager.Define($"<pool type='dir'><name>{name}</name><target><path>{target}</path></target></pool>");
        Manager.Build(name, PoolBuildMode.Default);
        Manager.Start(name);
        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed class StubUsage : IVolumeUsage
{
    public List<(string domain, string path)> Paths { get; } = [];

    public IEnumerable<(string domain, string path)> InUse() => Paths;
}
