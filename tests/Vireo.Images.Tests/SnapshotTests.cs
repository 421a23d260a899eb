namespace Vireo.Images.Tests;

/// <summary>Internal snapshots made, applied and deleted by Vireo, cross-checked with qemu-img in both directions.</summary>
public sealed class SnapshotTests
{
    public static TheoryData<string> Options => new()
    {
        "cluster_size=65536",
        "cluster_size=512,refcount_bits=8",
        "compat=0.10",
        "extended_l2=on,cluster_size=32k",
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void CreateApplyDeleteInteropWithQemu(string options)
    {
        using var d = new TempDir();
        string img = d.File("s.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", options, img, "4M");
        Qemu.Io(img, "qcow2", "write -P 0x11 0 1M", "write -P 0x22 3M 64k", "write -z 2M 64k");
        var a = ImageBytes.ReadAll(img);

        DiskImage.Snapshot(img, SnapshotAction.Create, "first");
        Qemu.AssertClean(img);
        Assert.Contains("first", Qemu.Img("snapshot", "-l", img), StringComparison.Ordinal);

        // Writes after the snapshot copy on write: the snapshot keeps A.
        Qemu.Io(img, "qcow2", "write -P 0x33 512k 1M", "discard 3M 64k");
        var b = ImageBytes.ReadAll(img);
        Assert.NotEqual(a, b);
        Qemu.Img("snapshot", "-c", "second", img);
        Qemu.AssertClean(img);

        DiskImage.Snapshot(img, SnapshotAction.Apply, "first");
        Qemu.AssertClean(img);
        Assert.Equal(a, QemuRaw(d, img));

        // Writing after a revert must not touch what the snapshots hold.
        using (var w = DiskImage.Open(img))
        {
            w.WriteAsync(0, new byte[70000].Select(_ => (byte)0x44).ToArray()).AsTask().GetAwaiter().GetResult();
        }

        Qemu.AssertClean(img);
        DiskImage.Snapshot(img, SnapshotAction.Delete, "first");
        Qemu.AssertClean(img);
        string list = Qemu.Img("snapshot", "-l", img);
        Assert.DoesNotContain("first", list, StringComparison.Ordinal);
        Assert.Contains("second", list, StringComparison.Ordinal);

        Qemu.Img("snapshot", "-a", "second", img);
        Assert.Equal(b, ImageBytes.ReadAll(img));
        DiskImage.Snapshot(img, SnapshotAction.Delete, "second");
        Qemu.AssertClean(img);
        Assert.Equal(b, QemuRaw(d, img));
        Assert.Empty(DiskImage.Inspect(img).Snapshots);
    }

    [Fact]
    public void SnapshotsOfCompressedImagesAndRefusals()
    {
        using var d = new TempDir();
        string raw = d.File("src.raw");
        var data = new byte[2 << 20];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i / 4096 % 7);
        }

        File.WriteAllBytes(raw, data);
        string img = d.File("c.qcow2");
        Qemu.Img("convert", "-c", "-O", "qcow2", raw, img);
        DiskImage.Snapshot(img, SnapshotAction.Create, "c1");
        using (var w = DiskImage.Open(img))
        {
            w.WriteAsync(4096, new byte[100_000]).AsTask().GetAwaiter().GetResult();
        }

        Qemu.AssertClean(img);
        DiskImage.Snapshot(img, SnapshotAction.Apply, "1");
        Assert.Equal(data, QemuRaw(d, img));
        DiskImage.Snapshot(img, SnapshotAction.Delete, "c1");
        Qemu.AssertClean(img);

        var e = Assert.Throws<ImageException>(() => DiskImage.Snapshot(img, SnapshotAction.Apply, "nope"));
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
        DiskImage.Snapshot(img, SnapshotAction.Create, "dup");
        Assert.Throws<ImageException>(() => DiskImage.Snapshot(img, SnapshotAction.Create, "dup"));
        Assert.Throws<ImageException>(() => DiskImage.Snapshot(raw, SnapshotAction.Create, "x"));
        Qemu.AssertClean(img);
    }

    private static byte[] QemuRaw(TempDir d, string img)
    {
        string o = d.File($"out-{Guid.NewGuid():N}.raw");
        Qemu.Img("convert", "-O", "raw", img, o);
        return File.ReadAllBytes(o);
    }
}
