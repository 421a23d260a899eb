namespace Vireo.Images.Tests;

/// <summary>rebase, commit, amend and dd, each compared with what the real qemu-img does on the same input.</summary>
public sealed class ChainCommandTests
{
    /// <summary>base (A) &lt;- mid (B over part) &lt;- top (C over another part), all written by qemu-io.</summary>
    private static (string Base, string Mid, string Top) MakeChain(TempDir d)
    {
        string b = d.File("base.qcow2");
        string m = d.File("mid.qcow2");
        string t = d.File("top.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", b, "4M");
        Qemu.Io(b, "qcow2", "write -P 0xa1 0 2M", "write -P 0xa2 3M 1M");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", m);
        Qemu.Io(m, "qcow2", "write -P 0xb1 1M 1M", "write -z 3M 64k");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", t);
        Qemu.Io(t, "qcow2", "write -P 0xc1 192k 100k");
        return (b, m, t);
    }

    private static byte[] QemuRaw(TempDir d, string img)
    {
        string o = d.File($"out-{Guid.NewGuid():N}.raw");
        Qemu.Img("convert", "-O", "raw", img, o);
        return File.ReadAllBytes(o);
    }

    [Fact]
    public async Task SafeRebaseKeepsContentAndUnsafeOnlyRewritesTheHeader()
    {
        using var d = new TempDir();
        var (b, _, t) = MakeChain(d);
        var before = QemuRaw(d, t);

        // Skip mid: top now reads base directly, so mid's differences are copied into top.
        await DiskImage.RebaseAsync(t, "base.qcow2", ImageFormat.Qcow2, unsafeMode: false);
        Qemu.AssertClean(t);
        Assert.Equal(before, QemuRaw(d, t));
        var info = DiskImage.Inspect(t);
        Assert.Equal("base.qcow2", info.BackingFile);
        Assert.Equal("qcow2", info.BackingFormat);

        // No backing at all: everything base provided moves into top.
        await DiskImage.RebaseAsync(t, "", null, unsafeMode: false);
        Qemu.AssertClean(t);
        Assert.Null(DiskImage.Inspect(t).BackingFile);
        Assert.Equal(before, QemuRaw(d, t));

        // -u: header only; the data now seen through the new backing is whatever that file holds.
        string other = d.File("other.raw");
        File.WriteAllBytes(other, new byte[4 << 20]);
        string o2 = d.File("o2.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", o2);
        await DiskImage.RebaseAsync(o2, "other.raw", ImageFormat.Raw, unsafeMode: true);
        Qemu.AssertClean(o2);
        Assert.Contains("backing file: other.raw", Qemu.Img("info", o2), StringComparison.Ordinal);
        Assert.Equal(new byte[4 << 20], QemuRaw(d, o2));
        _ = b;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CommitMatchesQemuImgCommit(bool keep)
    {
        using var d = new TempDir();
        var (_, m, t) = MakeChain(d);
        var expected = QemuRaw(d, t);

        // The same chain committed by qemu-img, for the state of the top afterwards.
        using var d2 = new TempDir();
        var (_, m2, t2) = MakeChain(d2);
        Qemu.Img(keep ? ["commit", "-q", "-d", t2] : ["commit", "-q", t2]);

        await DiskImage.CommitAsync(t, keep: keep);
        Qemu.AssertClean(t);
        Qemu.AssertClean(m);
        Assert.Equal(expected, QemuRaw(d, m));
        Assert.Equal(expected, QemuRaw(d, t));
        Assert.Equal(QemuRaw(d2, m2), QemuRaw(d, m));
        var map = Qemu.Img("map", "--output=json", t);
        var map2 = Qemu.Img("map", "--output=json", t2);
        Assert.Equal(Depths(map2), Depths(map));
    }

    private static string Depths(string mapJson) =>
        string.Join(',', System.Text.RegularExpressions.Regex.Matches(mapJson, "\"depth\": (\\d+)").Select(x => x.Groups[1].Value));

    [Fact]
    public void AmendCompatLazyRefcountsAndBacking()
    {
        using var d = new TempDir();
        string img = d.File("a.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", img, "2M");
        Qemu.Io(img, "qcow2", "write -P 0x5a 0 300k");
        var data = QemuRaw(d, img);

        DiskImage.Amend(img, new AmendOptions { Version = 3, LazyRefcounts = true });
        Qemu.AssertClean(img);
        string info = Qemu.Img("info", img);
        Assert.Contains("compat: 1.1", info, StringComparison.Ordinal);
        Assert.Contains("lazy refcounts: true", info, StringComparison.Ordinal);
        Assert.Equal(data, QemuRaw(d, img));

        DiskImage.Amend(img, new AmendOptions { Version = 2, LazyRefcounts = false });
        Qemu.AssertClean(img);
        Assert.Contains("compat: 0.10", Qemu.Img("info", img), StringComparison.Ordinal);
        Assert.Equal(data, QemuRaw(d, img));

        string b = d.File("b.raw");
        File.WriteAllBytes(b, new byte[2 << 20]);
        DiskImage.Amend(img, new AmendOptions { BackingFile = "b.raw", BackingFormat = ImageFormat.Raw });
        Qemu.AssertClean(img);
        Assert.Contains("backing file format: raw", Qemu.Img("info", img), StringComparison.Ordinal);

        // Version 2 has no zero flag: zero clusters are expanded as qemu does (ImgCliDowngradeTests compares in detail).
        string z = d.File("z.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", z, "1M");
        Qemu.Io(z, "qcow2", "write -P 1 0 64k", "write -z 0 64k");
        DiskImage.Amend(z, new AmendOptions { Version = 2 });
        Qemu.AssertClean(z);
        Assert.Equal(new byte[1 << 20], QemuRaw(d, z));
    }

    [Theory]
    [InlineData("bs=64k", "count=10", "skip=3")]
    [InlineData("bs=1000", "skip=7", null)]
    [InlineData("bs=512", "count=5000", null)]
    public async Task DdMatchesQemuImgDd(string bs, string? a, string? b)
    {
        using var d = new TempDir();
        string src = d.File("src.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", src, "3M");
        Qemu.Io(src, "qcow2", "write -P 0x61 100k 700k", "write -P 0x62 2M 512k");
        var ops = new List<string> { bs };
        ops.AddRange(new[] { a, b }.OfType<string>());
        string q = d.File("q.raw");
        Qemu.Img(["dd", "-f", "qcow2", "-O", "raw", .. ops, $"if={src}", $"of={q}"]);

        long bsv = long.Parse(bs[3..].Replace("k", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) * (bs.EndsWith('k') ? 1024 : 1);
        long? count = ops.FirstOrDefault(o => o.StartsWith("count=", StringComparison.Ordinal)) is { } c ? long.Parse(c[6..], System.Globalization.CultureInfo.InvariantCulture) : null;
        long skip = ops.FirstOrDefault(o => o.StartsWith("skip=", StringComparison.Ordinal)) is { } s ? long.Parse(s[5..], System.Globalization.CultureInfo.InvariantCulture) : 0;
        string v = d.File("v.raw");
        await DiskImage.DdAsync(src, ImageFormat.Qcow2, v, ImageFormat.Raw, bsv, count, skip);
        Assert.Equal(File.ReadAllBytes(q), File.ReadAllBytes(v));

        string vq = d.File("v.qcow2");
        await DiskImage.DdAsync(src, null, vq, ImageFormat.Qcow2, bsv, count, skip);
        Qemu.AssertClean(vq);
        Assert.Equal(File.ReadAllBytes(q), QemuRaw(d, vq));
    }
}
