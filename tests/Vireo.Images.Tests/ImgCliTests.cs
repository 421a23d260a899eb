using System.Buffers.Binary;
using static Vireo.Images.Tests.ImgCli;

namespace Vireo.Images.Tests;

/// <summary>Images written by qemu-img and qemu-io once for the read-only side-by-side tests.</summary>
public sealed class ImgCliImages : IDisposable
{
    private readonly TempDir _dir = new();

    public ImgCliImages()
    {
        Qemu.Img("create", "-q", "-f", "qcow2", File("base.qcow2"), "4M");
        Qemu.Io(File("base.qcow2"), "qcow2", "write -P 1 0 64k", "write -P 2 1M 128k", "write -z 2M 64k");
        Qemu.Img("snapshot", "-c", "s1", File("base.qcow2"));
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", File("top.qcow2"));
        Qemu.Io(File("top.qcow2"), "qcow2", "write -P 3 64k 64k", "write -z 1M 64k");
        Qemu.Img("create", "-q", "-f", "raw", File("plain.raw"), "3M");
        Qemu.Io(File("plain.raw"), "raw", "write -P 7 0 128k", "write -P 8 2M 64k");
        Qemu.Img("convert", "-c", "-O", "qcow2", File("plain.raw"), File("comp.qcow2"));
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=32k", File("ext.qcow2"), "2M");
        Qemu.Io(File("ext.qcow2"), "qcow2", "write -P 9 4k 8k", "write -z 64k 32k");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=32k", "-b", "ext.qcow2", "-F", "qcow2", File("extop.qcow2"));
        Qemu.Io(File("extop.qcow2"), "qcow2", "write -P 10 5k 1k", "write -z 64k 1k", "write -P 11 1M 2k");

        // Longer than its backing file: past base's end, qemu-img map reports zeroes at depth 0.
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", File("long.qcow2"), "8M");
        Qemu.Io(File("long.qcow2"), "qcow2", "write -P 12 6M 64k");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4k,refcount_bits=16", File("v2.qcow2"), "1M");
        Qemu.Io(File("v2.qcow2"), "qcow2", "write -P 5 8k 8k");
    }

    public string Dir => _dir.Path;

    public string File(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// <c>vireo img</c> and qemu-img side by side on the same files: same exit code, same stdout, for the commands
/// scripts parse (info, check, map, compare, measure) and for bad input (one <c>error:</c> line, exit 1,
/// nothing created or changed).
/// </summary>
public sealed class ImgCliTests(ImgCliImages images) : IClassFixture<ImgCliImages>
{
    private static readonly string[] AllImages = ["base.qcow2", "top.qcow2", "plain.raw", "comp.qcow2", "ext.qcow2", "extop.qcow2", "long.qcow2", "v2.qcow2"];

    /// <summary>Runs both tools in <paramref name="cwd"/>; exit codes and stdout must be identical.</summary>
    internal static (int Exit, string Out, string Err) Same(string cwd, params string[] args)
    {
        var q = QemuImg(cwd, args);
        var v = VireoImg(cwd, args);
        string what = $"img {string.Join(' ', args)}";
        Assert.True(q.Exit == v.Exit, $"{what}: qemu-img exit {q.Exit}, vireo exit {v.Exit}\nqemu: {q.Out}{q.Err}\nvireo: {v.Out}{v.Err}");
        Assert.True(q.Out == v.Out, $"{what}: stdout differs\n--- qemu-img\n{q.Out}\n--- vireo\n{v.Out}\n{v.Err}");
        return v;
    }

    [Fact]
    public void InfoPrintsWhatQemuImgPrints()
    {
        string d = images.Dir;
        foreach (var img in AllImages)
        {
            Same(d, "info", img);
            Same(d, "info", "--output=json", img);
            Same(d, "info", "--output", "json", "-U", img);
            Same(d, "info", "--backing-chain", img);
            Same(d, "info", "--output=json", "--backing-chain", img);
        }

        // Backing names are joined to the image name as given: relative, ./relative and absolute.
        Same(d, "info", "--backing-chain", "./top.qcow2");
        Same(d, "info", "--output=json", "--backing-chain", images.File("top.qcow2"));
        Same(Path.GetDirectoryName(d)!, "info", "--output=json", "--backing-chain", Path.Combine(Path.GetFileName(d), "top.qcow2"));
        Same(d, "info", "-f", "raw", "--output=json", "base.qcow2");
        Same(d, "snapshot", "-l", "base.qcow2");
        Same(d, "snapshot", "-l", "top.qcow2");
    }

    [Fact]
    public void MapCompareAndMeasurePrintWhatQemuImgPrints()
    {
        string d = images.Dir;
        foreach (var img in AllImages)
        {
            Same(d, "map", img);
            Same(d, "map", "--output=json", img);

            Same(d, "measure", "-O", "qcow2", img);
            Same(d, "measure", "--output=json", "-O", "qcow2", "-o", "cluster_size=4k", img);
            Same(d, "measure", "-O", "raw", img);
            Same(d, "compare", img, img);
        }

        Same(d, "map", "--output=json", "--start-offset=1M", "--max-length=1M", "top.qcow2");
        Same(d, "measure", "--size", "1G", "-O", "qcow2");
        Same(d, "measure", "--output=json", "--size", "100M", "-O", "qcow2", "-o", "refcount_bits=64,extended_l2=on");
        Same(d, "measure", "--size", "1000", "-O", "raw");
        Same(d, "measure", "--output=json", "--size", "1G", "-O", "qcow2", "-o", "preallocation=full");

        // Identical → 0; different → 1 with the first differing offset; -s: sizes must match too.
        Assert.Equal("Images are identical.\n", Same(d, "compare", "-f", "raw", "-F", "qcow2", "plain.raw", "comp.qcow2").Out);
        Assert.StartsWith("Content mismatch at offset ", Same(d, "compare", "top.qcow2", "base.qcow2").Out, StringComparison.Ordinal);
        Same(d, "compare", "base.qcow2", "plain.raw");
        Same(d, "compare", "-s", "base.qcow2", "plain.raw");
        Same(d, "compare", "-q", "top.qcow2", "base.qcow2");
        Same(d, "compare", "-s", "-f", "raw", "-F", "qcow2", "plain.raw", "comp.qcow2");
        Same(d, "compare", "comp.qcow2", "base.qcow2");

        // Strict mode also compares allocation; a longer image must be zero past the shorter one's end.
        using var t = new TempDir();
        Qemu.Img("create", "-q", "-f", "qcow2", t.File("a.qcow2"), "1M");
        Qemu.Img("create", "-q", "-f", "qcow2", t.File("b.qcow2"), "1M");
        Qemu.Io(t.File("b.qcow2"), "qcow2", "write -z 8k 4k");
        Qemu.Img("create", "-q", "-f", "qcow2", t.File("long.qcow2"), "2M");
        Assert.Equal(1, Same(t.Path, "compare", "-s", "a.qcow2", "b.qcow2").Exit);
        Assert.Equal(0, Same(t.Path, "compare", "a.qcow2", "b.qcow2").Exit);
        Assert.Equal(0, Same(t.Path, "compare", "a.qcow2", "long.qcow2").Exit);
        Qemu.Io(t.File("long.qcow2"), "qcow2", "write -P 1 1536k 4k");
        Assert.Equal(1, Same(t.Path, "compare", "a.qcow2", "long.qcow2").Exit);
        Assert.Equal(2, Same(d, "compare", "missing.qcow2", "base.qcow2").Exit);
    }

    [Fact]
    public void CheckExitCodesAndOutputMatchQemuImg()
    {
        using var t = new TempDir();
        string d = t.Path;
        File.Copy(images.File("base.qcow2"), t.File("clean.qcow2"));
        File.Copy(images.File("plain.raw"), t.File("plain.raw"));
        Qemu.Img("create", "-q", "-f", "qcow2", t.File("empty.qcow2"), "1M");
        Assert.Equal(0, Same(d, "check", "clean.qcow2").Exit);
        Same(d, "check", "--output=json", "clean.qcow2");
        Same(d, "check", "empty.qcow2");
        Same(d, "check", "--output=json", "empty.qcow2");
        Same(d, "check", "-q", "--output=json", "clean.qcow2");
        Same(d, "check", "--output=json", images.File("comp.qcow2"));
        Assert.Equal(63, Same(d, "check", "plain.raw").Exit);

        // Leaks: exit 3; -r leaks repairs them (same report), after which both tools find nothing.
        File.Copy(images.File("top.qcow2"), t.File("leaks.qcow2"));
        File.Copy(images.File("base.qcow2"), t.File("base.qcow2"));
        Corrupt.Leak(t.File("leaks.qcow2"), 2);
        Assert.Equal(3, Same(d, "check", "leaks.qcow2").Exit);
        Same(d, "check", "--output=json", "leaks.qcow2");
        File.Copy(t.File("leaks.qcow2"), t.File("leaks-q.qcow2"));
        var q = QemuImg(d, "check", "-r", "leaks", "leaks-q.qcow2");
        var v = VireoImg(d, "check", "-r", "leaks", "leaks.qcow2");
        Assert.Equal((q.Exit, q.Out), (v.Exit, v.Out));
        Qemu.AssertClean(t.File("leaks.qcow2"));
        Same(d, "check", "--output=json", "leaks.qcow2");

        // Corruption (a referenced cluster with refcount 0): exit 2; -r all repairs it so qemu-img finds nothing.
        Qemu.Img("create", "-q", "-f", "qcow2", t.File("bad.qcow2"), "4M");
        Qemu.Io(t.File("bad.qcow2"), "qcow2", "write -P 4 0 64k");
        Corrupt.ZeroFirstDataRefcount(t.File("bad.qcow2"));
        Assert.Equal(2, Same(d, "check", "bad.qcow2").Exit);
        Same(d, "check", "--output=json", "bad.qcow2");
        var before = ImageBytes.ReadAll(t.File("bad.qcow2"), ImageFormat.Qcow2);
        v = VireoImg(d, "check", "-r", "all", "bad.qcow2");
        Assert.True(v.Exit == 0, v.Out + v.Err);
        Assert.Contains("No errors were found on the image.", v.Out, StringComparison.Ordinal);
        Qemu.AssertClean(t.File("bad.qcow2"));
        Assert.Equal(before, ImageBytes.ReadAll(t.File("bad.qcow2"), ImageFormat.Qcow2));
    }

    /// <summary>-o help: qemu-img's list in qemu-img's layout, less the options Vireo refuses; nothing is created.</summary>
    [Fact]
    public void OptionHelpListsWhatQemuImgListsLessWhatVireoRefuses()
    {
        string d = images.Dir;
        string[] refused = ["  data_file=", "  data_file_raw=", "  encryption=", "  nocow="];
        string[][] cases =
        [
            ["create", "-f", "qcow2", "-o", "help"],
            ["create", "-f", "raw", "-o", "?"],
            ["create", "-f", "luks", "-o", "help"],
            ["create", "-f", "qcow2", "-o", "cluster_size=4k,help", "help.qcow2", "1M"],
            ["create", "-o", "help", "help.raw"],
            ["convert", "-O", "qcow2", "-o", "help"],
        ];
        foreach (var args in cases)
        {
            var q = QemuImg(d, args);
            string expected = string.Join('\n', q.Out.Split('\n').Where(l => !refused.Any(r => l.StartsWith(r, StringComparison.Ordinal))))
                .Replace("format choices: 'aes', 'luks'", "format choices: 'luks'", StringComparison.Ordinal);
            var v = VireoImg(d, args);
            Assert.True(q.Exit == 0 && v.Exit == 0, $"{string.Join(' ', args)}: exit {q.Exit} / {v.Exit}: {v.Err}");
            Assert.Equal(expected, v.Out);
        }

        Assert.False(File.Exists(images.File("help.qcow2")));
        Assert.False(File.Exists(images.File("help.raw")));

        // amend: a subset of qemu's list (Vireo amends compat, lazy_refcounts and the backing file), line for line.
        var qa = QemuImg(d, "amend", "-f", "qcow2", "-o", "help", "base.qcow2").Out.Split('\n');
        var va = VireoImg(d, "amend", "-f", "qcow2", "-o", "help", "base.qcow2").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(qa[0], va[0]);
        Assert.Equal(5, va.Length);
        Assert.All(va, l => Assert.Contains(l, qa));
    }

    public static TheoryData<string[], string> BadInput => new()
    {
        { ["create", "-f", "qcow2", "new.qcow2", "1x"], "1x" },
        { ["create", "-f", "qcow2", "new.qcow2", "-5"], "" },
        { ["create", "-f", "qcow2", "-o", "foo=1", "new.qcow2", "1M"], "foo" },
        { ["create", "-f", "qcow3", "new.qcow2", "1M"], "qcow3" },
        { ["create", "-f", "qcow2", "-o", "cluster_size=3000", "new.qcow2", "1M"], "3000" },
        { ["create", "-f", "qcow2", "-o", "cluster_size=4M", "new.qcow2", "1M"], "cluster" },
        { ["create", "-f", "qcow2", "-o", "refcount_bits=3", "new.qcow2", "1M"], "refcount" },
        { ["create", "-f", "qcow2", "-o", "compat=0.10,lazy_refcounts=on", "new.qcow2", "1M"], "azy" },
        { ["create", "-f", "qcow2", "-o", "preallocation=bogus", "new.qcow2", "1M"], "bogus" },
        { ["create", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=4k", "new.qcow2", "1M"], "xtended" },
        { ["create", "-f", "raw", "-o", "cluster_size=64k", "new.qcow2", "1M"], "cluster_size" },
        { ["create", "-f", "qcow2", "new.qcow2"], "size" },
        { ["create", "-f", "qcow2", "-b", "base.qcow2", "new.qcow2"], "backing format" },
        { ["create", "-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "new.qcow2", "1M"], "missing.qcow2" },
        { ["convert", "-O", "qcow3", "base.qcow2", "new.qcow2"], "qcow3" },
        { ["convert", "-O", "qcow2", "missing.qcow2", "new.qcow2"], "missing.qcow2" },
        { ["convert", "-O", "qcow2", "-o", "foo=bar", "base.qcow2", "new.qcow2"], "foo" },
        { ["convert", "-O", "qcow2", "-m", "17", "base.qcow2", "new.qcow2"], "coroutines" },
        { ["convert", "-O", "qcow2", "-S", "1x", "base.qcow2", "new.qcow2"], "1x" },
        { ["convert", "-f", "qcow3", "-O", "raw", "base.qcow2", "new.qcow2"], "qcow3" },
        { ["convert", "-O", "raw", "--target-is-zero", "base.qcow2", "new.qcow2"], "-n" },
        { ["dd", "if=missing.qcow2", "of=new.qcow2"], "missing.qcow2" },
        { ["dd", "if=base.qcow2", "of=new.qcow2", "bs=1x"], "1x" },
        { ["info", "missing.qcow2"], "missing.qcow2" },
        { ["map", "missing.qcow2"], "missing.qcow2" },
        { ["measure", "-O", "qcow2", "missing.qcow2"], "missing.qcow2" },
        { ["check", "missing.qcow2"], "missing.qcow2" },
        { ["info", "--output=xml", "base.qcow2"], "human or json" },
        { ["resize", "base.qcow2", "1x"], "1x" },
        { ["resize", "target.qcow2", "-1M"], "shrink" },
        { ["resize", "missing.qcow2", "1M"], "missing.qcow2" },
        { ["amend", "-o", "foo=1", "target.qcow2"], "foo" },
        { ["amend", "-o", "compat=0.9", "target.qcow2"], "0.9" },
        { ["snapshot", "-a", "nosuch", "target.qcow2"], "nosuch" },
        { ["snapshot", "-d", "nosuch", "target.qcow2"], "nosuch" },
        { ["commit", "missing.qcow2"], "missing.qcow2" },
        { ["commit", "target.qcow2"], "backing" },
        { ["rebase", "-b", "missing.qcow2", "-F", "qcow2", "target.qcow2"], "missing.qcow2" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void BadInputIsOneErrorLineExitOneAndChangesNothing(string[] args, string named)
    {
        using var t = new TempDir();
        File.Copy(images.File("base.qcow2"), t.File("base.qcow2"));
        File.Copy(images.File("v2.qcow2"), t.File("target.qcow2"));
        var before = Directory.GetFiles(t.Path).Order(StringComparer.Ordinal).Select(f => (f, Convert.ToHexString(File.ReadAllBytes(f)))).ToList();

        var q = QemuImg(t.Path, args);
        Assert.True(q.Exit != 0, $"qemu-img accepted {string.Join(' ', args)}");
        foreach (var f in Directory.GetFiles(t.Path).Where(f => before.All(b => b.f != f)))
        {
            File.Delete(f);
        }

        var v = VireoImg(t.Path, args);
        string what = $"img {string.Join(' ', args)}";
        Assert.True(v.Exit == (args[0] == "compare" ? 2 : 1), $"{what}: exit {v.Exit}: {v.Out}{v.Err}");
        var lines = v.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), $"{what}: stderr is not one error line: {v.Err}");
        Assert.Contains(named, lines[0], StringComparison.Ordinal);
        var after = Directory.GetFiles(t.Path).Order(StringComparer.Ordinal).Select(f => (f, Convert.ToHexString(File.ReadAllBytes(f)))).ToList();
        Assert.Equal(before, after);
    }

    public static TheoryData<string[], string> Unsupported => new()
    {
        { ["create", "-f", "qcow2", "-o", "nocow=on", "new.qcow2", "1M"], "nocow" },
        { ["create", "-f", "qcow2", "-o", "data_file=d.raw", "new.qcow2", "1M"], "data_file" },
        { ["create", "-f", "qcow2", "-o", "encryption=on", "new.qcow2", "1M"], "encryption" },
        { ["convert", "-l", "s1", "-O", "qcow2", "base.qcow2", "new.qcow2"], "-l" },
        { ["convert", "--salvage", "-O", "qcow2", "base.qcow2", "new.qcow2"], "salvage" },
        { ["convert", "--bitmaps", "-O", "qcow2", "base.qcow2", "new.qcow2"], "bitmaps" },
    };

    /// <summary>What qemu-img accepts and Vireo cannot do the same way is refused, naming it, with nothing created.</summary>
    [Theory]
    [MemberData(nameof(Unsupported))]
    public void UnsupportedOptionsAreRefusedByName(string[] args, string named)
    {
        using var t = new TempDir();
        File.Copy(images.File("base.qcow2"), t.File("base.qcow2"));
        var v = VireoImg(t.Path, args);
        Assert.Equal(1, v.Exit);
        Assert.StartsWith("error: ", v.Err, StringComparison.Ordinal);
        Assert.Contains(named, v.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(t.File("new.qcow2")));
        Assert.False(File.Exists(t.File("d.raw")));
    }

    [Fact]
    public void ProgressIsNotPrintedOnAPipe()
    {
        using var t = new TempDir();
        File.Copy(images.File("top.qcow2"), t.File("top.qcow2"));
        File.Copy(images.File("base.qcow2"), t.File("base.qcow2"));
        var v = VireoImg(t.Path, "convert", "-p", "-O", "qcow2", "top.qcow2", "out.qcow2");
        Assert.Equal((0, "", ""), v);
        v = VireoImg(t.Path, "commit", "-p", "-q", "top.qcow2");
        Assert.Equal((0, "", ""), v);
        v = VireoImg(t.Path, "rebase", "-p", "-b", "", "out.qcow2");
        Assert.Equal((0, "", ""), v);
    }
}

/// <summary>Damages a qcow2 file (16-bit refcounts, one refcount block) the way the check tests need.</summary>
internal static class Corrupt
{
    private static (int ClusterSize, long RefBlock) Layout(FileStream f)
    {
        Span<byte> h = stackalloc byte[104];
        f.ReadExactly(h);
        int cs = 1 << (int)BinaryPrimitives.ReadUInt32BigEndian(h[20..]);
        long rt = (long)BinaryPrimitives.ReadUInt64BigEndian(h[48..]);
        Span<byte> e = stackalloc byte[8];
        RandomAccess.Read(f.SafeFileHandle, e, rt);
        return (cs, (long)BinaryPrimitives.ReadUInt64BigEndian(e));
    }

    /// <summary>Appends <paramref name="clusters"/> clusters that are counted but referenced by nothing.</summary>
    public static void Leak(string path, int clusters)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var (cs, rb) = Layout(f);
        long first = (f.Length + cs - 1) / cs;
        var one = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(one, 1);
        for (int i = 0; i < clusters; i++)
        {
            RandomAccess.Write(f.SafeFileHandle, one, rb + ((first + i) * 2));
        }

        f.SetLength((first + clusters) * cs);
    }

    /// <summary>Sets the refcount of the first data cluster (L1[0] → L2[0]) to 0.</summary>
    public static void ZeroFirstDataRefcount(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var (cs, rb) = Layout(f);
        var b = new byte[8];
        RandomAccess.Read(f.SafeFileHandle, b, 40);
        long l1 = (long)BinaryPrimitives.ReadUInt64BigEndian(b);
        RandomAccess.Read(f.SafeFileHandle, b, l1);
        long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(b) & 0x00fffffffffffe00);
        RandomAccess.Read(f.SafeFileHandle, b, l2);
        long data = (long)(BinaryPrimitives.ReadUInt64BigEndian(b) & 0x00fffffffffffe00);
        RandomAccess.Write(f.SafeFileHandle, new byte[2], rb + (data / cs * 2));
    }
}
