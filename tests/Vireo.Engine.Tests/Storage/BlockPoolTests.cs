using Vireo.Engine.Storage;
using Vireo.Model;

namespace Vireo.Engine.Tests.Storage;

/// <summary>fs and logical pools over loop devices (root, e2fsprogs and lvm2 needed; CI has them).</summary>
public sealed class BlockPoolTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly StorageRoot _r = new();

    public void Dispose() => _r.Dispose();

    [Fact]
    public void LogicalPoolOverALoopDevice()
    {
        using var loop = new LoopDevice(Path.Combine(_r.Dir, "pv.img"), 64 * MiB);
        string vg = "vireo_t" + Guid.NewGuid().ToString("N")[..8];
        var m = _r.Manager;
        try
        {
            m.Define($"<pool type='logical'><name>{vg}</name><source><device path='{loop.Path}'/></source></pool>");
            m.Build(vg, PoolBuildMode.Default);
            m.Start(vg);
            var info = m.Info(vg);
            Assert.True(info.Active);
            Assert.InRange(info.Capacity, 56 * MiB, 64 * MiB);
            Assert.Equal(0, info.Allocation);

            var v = m.CreateVolume(vg, new VolumeCreateRequest { Name = "lv1", Capacity = 8 * MiB });
            Assert.Equal("block", v.Type);
            Assert.Equal($"/dev/{vg}/lv1", v.Path);
            Assert.Equal(8 * MiB, v.Capacity);
            Assert.Matches("^[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$", v.Key);
            Assert.Equal(8 * MiB, m.Info(vg).Allocation);
            Assert.Equal("lv1", m.FindVolume(v.Key, null).Name);
            Assert.Contains("<volume type='block'>", m.VolumeXml(v), StringComparison.Ordinal);
            Assert.Equal(("/dev/" + vg + "/lv1", "raw"), new VolumeResolver(m).Resolve(vg, "lv1"));

            var grown = m.ResizeVolume(v, 16 * MiB, delta: false, shrink: false);
            Assert.Equal(16 * MiB, grown.Capacity);
            var e = Assert.Throws<VireoException>(() => m.CreateVolume(vg, new VolumeCreateRequest { Name = "bad name", Capacity = MiB }));
            Assert.Contains("LVM", e.Message, StringComparison.Ordinal);
            e = Assert.Throws<VireoException>(() => m.CreateVolume(vg, new VolumeCreateRequest { Name = "q", Capacity = MiB, Format = "qcow2" }));
            Assert.Equal(ErrorKind.Unsupported, e.Kind);

            _r.Usage.Paths.Add(("db1", v.Path));
            Assert.Throws<VireoException>(() => m.DeleteVolume(v));
            _r.Usage.Paths.Clear();
            m.DeleteVolume(v);
            Assert.Empty(m.ListVolumes(vg));

            m.Destroy(vg);
            m.Delete(vg);
            m.Undefine(vg);
        }
        finally
        {
            // Leave no volume group behind on the host, whatever failed above.
            try
            {
                LoopDevice.Run("vgremove", "--config", "global { activation = 0 }", "--force", vg);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    [Fact]
    public void FsPoolFormatsMountsAndUnmounts()
    {
        using var loop = new LoopDevice(Path.Combine(_r.Dir, "fs.img"), 32 * MiB);
        string target = Path.Combine(_r.Dir, "mnt");
        var m = _r.Manager;
        try
        {
            m.Define($"<pool type='fs'><name>fs1</name><source><device path='{loop.Path}'/><format type='ext4'/></source><target><path>{target}</path></target></pool>");
            m.Build("fs1", PoolBuildMode.NoOverwrite);
            var e = Assert.Throws<VireoException>(() => m.Build("fs1", PoolBuildMode.NoOverwrite));
            Assert.Contains("--overwrite", e.Message, StringComparison.Ordinal);
            m.Start("fs1");
            Assert.True(IsMounted(target));
            var info = m.Info("fs1");
            Assert.InRange(info.Capacity, 16 * MiB, 32 * MiB);
            var v = m.CreateVolume("fs1", new VolumeCreateRequest { Name = "d.qcow2", Capacity = 64 * MiB, Format = "qcow2" });
            Assert.StartsWith(target + "/", v.Path, StringComparison.Ordinal);
            m.Destroy("fs1");
            Assert.False(IsMounted(target));
            Assert.False(File.Exists(v.Path));
            m.Start("fs1");
            Assert.Single(m.ListVolumes("fs1"));
            m.Destroy("fs1");
        }
        finally
        {
            if (IsMounted(target))
            {
                LoopDevice.Run("umount", target);
            }
        }
    }

    private static bool IsMounted(string dir) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == dir);
}
