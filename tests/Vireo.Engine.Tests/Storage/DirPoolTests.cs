using Vireo.Engine.Storage;
using Vireo.Model;

namespace Vireo.Engine.Tests.Storage;

public sealed class DirPoolTests : IDisposable
{
    private readonly StorageRoot _r = new();

    public void Dispose() => _r.Dispose();

    [Fact]
    public void DefaultPoolIsCreatedOnFirstUseUnderTheRoot()
    {
        var pools = _r.Manager.List();
        var d = Assert.Single(pools);
        Assert.Equal("default", d.Name);
        Assert.True(d.Active);
        Assert.True(d.Autostart);
        Assert.True(d.Capacity > 0);
        Assert.True(Directory.Exists(Path.Combine(_r.Paths.Root, "images")));

        // Undefined, it stays gone: only the first use of a root creates it.
        _r.Manager.Destroy("default");
        _r.Manager.Undefine("default");
        var again = new StoragePoolManager(_r.Paths);
        Assert.Empty(again.List());
    }

    [Fact]
    public void LifecycleDefineBuildStartDestroyDeleteUndefine()
    {
        string target = Path.Combine(_r.Dir, "imgs");
        var def = _r.Manager.Define($"<pool type='dir'><name>p1</name><target><path>{target}//</path><permissions><mode>0750</mode></permissions></target></pool>");
        Assert.Equal(target, def.TargetPath);
        var info = _r.Manager.Info("p1");
        Assert.False(info.Active);
        Assert.True(info.Persistent);
        Assert.Equal(0, info.Capacity);

        var e = Assert.Throws<VireoException>(() => _r.Manager.Start("p1"));
        Assert.Contains("pool-build", e.Message, StringComparison.Ordinal);

        _r.Manager.Build("p1", PoolBuildMode.Default);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute,
                File.GetUnixFileMode(target));
        }
        _r.Manager.Start("p1");
        info = _r.Manager.Info("p1");
        Assert.True(info.Active);
        Assert.True(info.Capacity > 0 && info.Available > 0 && info.Allocation > 0);
        Assert.Contains("<capacity unit='bytes'>" + info.Capacity + "</capacity>", _r.Manager.DumpXml("p1"), StringComparison.Ordinal);
        Assert.Contains("<capacity unit='bytes'>0</capacity>", _r.Manager.DumpXml("p1", inactive: true), StringComparison.Ordinal);
        Assert.Throws<VireoException>(() => _r.Manager.Start("p1"));

        _r.Manager.SetAutostart("p1", true);
        Assert.True(_r.Manager.Info("p1").Autostart);
        _r.Manager.SetAutostart("p1", false);
        Assert.False(_r.Manager.Info("p1").Autostart);

        _r.Manager.Refresh("p1");
        Assert.Equal(VireoException.State("x").Kind, Assert.Throws<VireoException>(() => _r.Manager.Delete("p1")).Kind);
        _r.Manager.Destroy("p1");
        _r.Manager.Delete("p1");
        Assert.False(Directory.Exists(target));
        _r.Manager.Undefine("p1");
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<VireoException>(() => _r.Manager.Info("p1")).Kind);
    }

    [Fact]
    public void TransientPoolVanishesWhenDestroyed()
    {
        string target = Path.Combine(_r.Dir, "t");
        _r.Manager.Create($"<pool type='dir'><name>t</name><target><path>{target}</path></target></pool>", PoolBuildMode.Default);
        var info = _r.Manager.Info("t");
        Assert.True(info.Active);
        Assert.False(info.Persistent);
        _r.Manager.Destroy("t");
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<VireoException>(() => _r.Manager.Info("t")).Kind);
    }

    [Fact]
    public void AutostartPoolsStartAfterARebootClearsRuntimeState()
    {
        _r.DirPool("a");
        _r.Manager.SetAutostart("a", true);
        Directory.Delete(_r.Paths.Runtime, recursive: true);
        var after = new StoragePoolManager(_r.Paths);
        Assert.True(after.Info("a").Active);
    }

    [Fact]
    public void TwoPoolsCannotShareATarget()
    {
        string target = _r.DirPool("a");
        var e = Assert.Throws<VireoException>(() => _r.Manager.Define($"<pool type='dir'><name>b</name><target><path>{target}</path></target></pool>"));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        Assert.Contains("'a'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PoolWithVolumesInUseIsNotDestroyedWithoutForce()
    {
        string target = _r.DirPool();
        var v = _r.Manager.CreateVolume("p1", new VolumeCreateRequest { Name = "disk.qcow2", Capacity = 1 << 20, Format = "qcow2" });
        _r.Usage.Paths.Add(("web1", v.Path));
        var e = Assert.Throws<VireoException>(() => _r.Manager.Destroy("p1"));
        Assert.Contains("'web1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("--force", e.Message, StringComparison.Ordinal);
        Assert.True(_r.Manager.Info("p1").Active);
        _r.Manager.Destroy("p1", force: true);
        Assert.False(_r.Manager.Info("p1").Active);
        Assert.True(File.Exists(Path.Combine(target, "disk.qcow2")));
    }

    [Fact]
    public void UnsupportedPoolTypeIsRefusedByName()
    {
        var e = Assert.Throws<VireoException>(() => _r.Manager.Define("<pool type='iscsi'><name>i</name><source><host name='h'/></source><target><path>/dev/disk/by-path</path></target></pool>"));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("iscsi", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolverGivesPathAndFormat()
    {
        _r.DirPool();
        var v = _r.Manager.CreateVolume("p1", new VolumeCreateRequest { Name = "a.qcow2", Capacity = 1 << 20, Format = "qcow2" });
        var (path, format) = new VolumeResolver(_r.Manager).Resolve("p1", "a.qcow2");
        Assert.Equal(v.Path, path);
        Assert.Equal("qcow2", format);
        var e = Assert.Throws<VireoException>(() => new VolumeResolver(_r.Manager).Resolve("p1", "nope"));
        Assert.Contains("'p1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
        _r.Manager.Destroy("p1");
        e = Assert.Throws<VireoException>(() => new VolumeResolver(_r.Manager).Resolve("p1", "a.qcow2"));
        Assert.Contains("not active", e.Message, StringComparison.Ordinal);
    }
}
