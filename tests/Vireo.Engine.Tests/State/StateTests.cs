using Vireo.Engine.State;
using Vireo.Model;

namespace Vireo.Engine.Tests.State;

public sealed class StateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vireo-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AtomicFile_ReplacesContentAndLeavesNoTemporaries()
    {
        string path = Path.Combine(_dir, "sub", "a.xml");
        AtomicFile.WriteAllText(path, "one");
        AtomicFile.WriteAllText(path, "two");
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        AtomicFile.Delete(path);
        AtomicFile.Delete(path);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ObjectLock_IsExclusiveAndReleasedOnDispose()
    {
        string path = Path.Combine(_dir, "locks", "domain-x.lock");
        using (ObjectLock.Acquire(path, TimeSpan.FromSeconds(1), "domain 'x'"))
        {
            // flock locks belong to the open file description: a second open conflicts, even in one process.
            var e = Assert.Throws<VireoException>(() => ObjectLock.Acquire(path, TimeSpan.FromMilliseconds(50), "domain 'x'"));
            Assert.Equal(ErrorKind.Busy, e.Kind);
            Assert.Contains("domain 'x' is busy", e.Message, StringComparison.Ordinal);
        }

        using var again = ObjectLock.Acquire(path, TimeSpan.FromSeconds(1), "domain 'x'");
    }

    [Fact]
    public void Paths_FollowVireoRoot()
    {
        var p = new VireoPaths("/srv/v", "/srv/v/run");
        Assert.Equal("/srv/v/domains", p.Domains);
        Assert.Equal("/srv/v/run/domains", p.RunDomains);
        Assert.Equal("/srv/v/run/locks/domain-web1.lock", p.LockFile("domain", "web1"));
    }
}
