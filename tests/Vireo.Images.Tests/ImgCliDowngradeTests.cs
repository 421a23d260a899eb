using static Vireo.Images.Tests.ImgCli;

namespace Vireo.Images.Tests;

/// <summary>commit -b into a deeper base and amend compat=0.10 over zero clusters, side by side with qemu-img.</summary>
public sealed partial class ImgCliWriteTests
{
    /// <summary>Runs a qemu-io script on the twin files.</summary>
    private void Io(string name, params string[] commands)
    {
        foreach (var d in new[] { _q, _v })
        {
            Qemu.Io(d.File(name), "qcow2", commands);
        }
    }

    private void QemuImgBoth(params string[] args)
    {
        foreach (var d in new[] { _q, _v })
        {
            var r = QemuImg(d.Path, args);
            Assert.True(r.Exit == 0, r.Out + r.Err);
        }
    }

    [Fact]
    public void CommitIntoADeeperBaseAsQemuImg()
    {
        Inputs();
        QemuImgBoth("create", "-q", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2", "upper.qcow2");
        Io("upper.qcow2", "write -P 6 0 64k", "write -z 3M 4k", "write -P 7 2M 8k");
        QemuImgBoth("convert", "-O", "raw", "upper.qcow2", "upper.raw");
        byte[] top = File.ReadAllBytes(_v.File("top.qcow2"));
        byte[] upper = File.ReadAllBytes(_v.File("upper.qcow2"));

        // Three layers into base.qcow2 (two levels down): -b implies -d, so upper and top stay as they were.
        Both("commit", "-b", "base.qcow2", "upper.qcow2");
        Twins("base.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("base.qcow2"), _v.File("upper.raw")).Exit);
        Assert.Equal(top, File.ReadAllBytes(_v.File("top.qcow2")));
        Assert.Equal(upper, File.ReadAllBytes(_v.File("upper.qcow2")));

        // Names that are not in the chain, relative to the image's directory or absolute.
        Both("commit", "-b", "nosuch.qcow2", "upper.qcow2");
        Both("commit", "-b", "upper.qcow2", "upper.qcow2");
        Both("commit", "-q", "-b", "top.qcow2", "upper.qcow2");
        Twins("top.qcow2");
        var v = VireoImg(_v.Path, "commit", "-b", _v.File("base.qcow2"), "upper.qcow2");
        Assert.Equal((0, "Image committed.\n"), (v.Exit, v.Out));
        Qemu.AssertClean(_v.File("base.qcow2"));
    }

    [Fact]
    public void DowngradeExpandsZeroClustersAsQemuImg()
    {
        Inputs();

        // No backing file: plain zero clusters become unallocated, preallocated ones zero-filled in place.
        QemuImgBoth("create", "-q", "-f", "qcow2", "alone.qcow2", "2M");
        Io("alone.qcow2", "write -P 1 0 256k", "write -z 64k 64k", "write -z 512k 128k", "write -z -u 128k 64k");
        Both("amend", "-o", "compat=0.10", "alone.qcow2");
        Twins("alone.qcow2");
        Assert.Equal(QemuImg(_q.Path, "map", "--output=json", "alone.qcow2").Out, QemuImg(_v.Path, "map", "--output=json", "alone.qcow2").Out);

        // Over a backing file, with zero clusters in an L2 table shared with a snapshot and lazy refcounts on:
        // the zeroes must keep hiding the backing data, in the active state and in the snapshot.
        QemuImgBoth("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "-b", "flat.raw", "-F", "raw", "over.qcow2");
        Io("over.qcow2", "write -P 1 0 64k", "write -z 64k 64k", "write -z 1M 128k");
        QemuImgBoth("snapshot", "-c", "s1", "over.qcow2");
        Io("over.qcow2", "write -z 1536k 64k", "write -P 2 0 64k");
        QemuImgBoth("convert", "-O", "raw", "over.qcow2", "over-now.raw");
        Both("amend", "-o", "compat=0.10", "over.qcow2");
        Twins("over.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("over.qcow2"), _v.File("over-now.raw")).Exit);
        Both("snapshot", "-a", "s1", "over.qcow2");
        Twins("over.qcow2");
        Assert.Contains("compat: 0.10", QemuImg(_v.Path, "info", "over.qcow2").Out, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> DowngradeRefusals => new()
    {
        { "-o refcount_bits=8", "", "refcount_bits=16" },
        { "-o extended_l2=on", "", "0x10" },
        { "-o compression_type=zstd", "write -c 0 64k", "zstd" },
        { "", "resize", "snapshots" },
        { "-o data_file=data.raw", "", "data file" },
    };

    [Theory]
    [MemberData(nameof(DowngradeRefusals))]
    public void DowngradeRefusesWhatQemuImgRefuses(string create, string then, string named)
    {
        var args = new List<string> { "create", "-q", "-f", "qcow2" };
        args.AddRange(create.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        args.AddRange(["x.qcow2", "1M"]);
        QemuImgBoth([.. args]);
        if (then == "resize")
        {
            QemuImgBoth("snapshot", "-c", "s", "x.qcow2");
            QemuImgBoth("resize", "-q", "x.qcow2", "2M");
        }
        else if (then.Length > 0)
        {
            Io("x.qcow2", then);
        }

        byte[] before = File.ReadAllBytes(_v.File("x.qcow2"));
        Both("amend", "-o", "compat=0.10", "x.qcow2");
        var v = VireoImg(_v.Path, "amend", "-o", "compat=0.10", "x.qcow2");
        Assert.Equal(1, v.Exit);
        Assert.Contains(named, v.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_v.File("x.qcow2")));

        // zstd without compressed clusters is fine: the type falls back to zlib.
        if (then.StartsWith("write -c", StringComparison.Ordinal))
        {
            QemuImgBoth("create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", "y.qcow2", "1M");
            Io("y.qcow2", "write 0 64k");
            Both("amend", "-o", "compat=0.10", "y.qcow2");
            Twins("y.qcow2");
        }
    }

    [Fact]
    public void DowngradeKeepsPersistentBitmaps()
    {
        // qemu-img downgrades and leaves the bitmaps inconsistent with leaked clusters; Vireo refuses instead.
        Qemu.Img("create", "-q", "-f", "qcow2", _v.File("bm.qcow2"), "1M");
        Qemu.Img("bitmap", "--add", _v.File("bm.qcow2"), "bm0");
        byte[] before = File.ReadAllBytes(_v.File("bm.qcow2"));
        var v = VireoImg(_v.Path, "amend", "-o", "compat=0.10", "bm.qcow2");
        Assert.Equal(1, v.Exit);
        Assert.Contains("bitmaps", v.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_v.File("bm.qcow2")));
    }
}
