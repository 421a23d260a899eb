using System.Globalization;
using System.Text.RegularExpressions;
using static Vireo.Images.Tests.ImgCli;

namespace Vireo.Images.Tests;

/// <summary>base.qcow2 (data, zeroes, holes) under top.qcow2, and top's content as a raw file.</summary>
public sealed class ImgCliSources : IDisposable
{
    internal static readonly string[] Names = ["base.qcow2", "top.qcow2", "flat.raw"];
    private readonly TempDir _d = new();

    public ImgCliSources()
    {
        Qemu.Img("create", "-q", "-f", "qcow2", File("base.qcow2"), "4M");
        Qemu.Io(File("base.qcow2"), "qcow2", "write -P 1 0 256k", "write -P 2 1M 128k", "write -z 2M 64k", "write -P 4 3M 4k");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", File("top.qcow2"));
        Qemu.Io(File("top.qcow2"), "qcow2", "write -P 3 64k 64k", "write -z 1M 64k", "write -P 5 3584k 8k");
        Qemu.Img("convert", "-O", "raw", File("top.qcow2"), File("flat.raw"));
    }

    public string File(string name) => _d.File(name);

    public void Dispose() => _d.Dispose();
}

/// <summary>
/// Commands that write, run side by side: qemu-img in one directory and <c>vireo img</c> in a twin holding the
/// same inputs. Exit codes and stdout must match, the results must read the same (qemu-img compare), describe
/// themselves the same (qemu-img info) and pass qemu-img check.
/// </summary>
public sealed partial class ImgCliWriteTests(ImgCliSources sources) : IDisposable, IClassFixture<ImgCliSources>
{
    private readonly TempDir _q = new();
    private readonly TempDir _v = new();

    public void Dispose()
    {
        _q.Dispose();
        _v.Dispose();
    }

    /// <summary>The sources, written once by qemu-io (<see cref="ImgCliSources"/>), copied into both directories.</summary>
    private void Inputs()
    {
        foreach (var d in new[] { _q, _v })
        {
            foreach (var f in ImgCliSources.Names)
            {
                File.Copy(sources.File(f), d.File(f));
            }
        }
    }

    private (int Exit, string Out, string Err) Both(params string[] args)
    {
        var q = QemuImg(_q.Path, args);
        var v = VireoImg(_v.Path, args);
        string what = $"img {string.Join(' ', args)}";
        Assert.True(q.Exit == v.Exit, $"{what}: qemu-img exit {q.Exit}, vireo exit {v.Exit}\nqemu: {q.Out}{q.Err}\nvireo: {v.Out}{v.Err}");
        Assert.True(q.Out == v.Out, $"{what}: stdout differs\n--- qemu-img\n{q.Out}\n--- vireo\n{v.Out}\n{v.Err}");
        return v;
    }

    /// <summary>The twin files read the same, describe themselves the same, and Vireo's passes qemu-img check.</summary>
    private void Twins(string name, bool sameInfo = true)
    {
        string q = _q.File(name);
        string v = _v.File(name);
        var c = Qemu.Run("qemu-img", "compare", q, v);
        Assert.True(c.Exit == 0, $"{name}: {c.Out}{c.Err}");
        if (DiskImage.Probe(v) == ImageFormat.Qcow2)
        {
            Qemu.AssertClean(v);
        }

        if (sameInfo)
        {
            Assert.Equal(InfoWithoutSizes(_q.Path, name), InfoWithoutSizes(_v.Path, name));
        }
    }

    /// <summary>qemu-img info --output=json without the allocation figure (layout) and snapshot dates (clock).</summary>
    private static string InfoWithoutSizes(string cwd, string name) =>
        ActualSize().Replace(QemuImg(cwd, "info", "--output=json", "--backing-chain", name).Out, "");

    [GeneratedRegex("\\s*\"(actual-size|date-sec|date-nsec)\": \\d+,")]
    private static partial Regex ActualSize();

    public static TheoryData<string, string, string> CreateCases => new()
    {
        { "qcow2", "", "1M" },
        { "qcow2", "cluster_size=512", "1.5M" },
        { "qcow2", "cluster_size=4k,lazy_refcounts=on", "100M" },
        { "qcow2", "cluster_size=2M,refcount_bits=1", "3G" },
        { "qcow2", "compat=0.10", "1k" },
        { "qcow2", "compat=v2,refcount_bits=16", "4096" },
        { "qcow2", "compat=1.1,refcount_bits=64", "2T" },
        { "qcow2", "compat=v3,lazy_refcounts", "512b" },
        { "qcow2", "preallocation=off", "1M" },
        { "qcow2", "preallocation=metadata,cluster_size=16k", "5M" },
        { "qcow2", "preallocation=falloc", "2M" },
        { "qcow2", "preallocation=full", "2M" },
        { "qcow2", "compression_type=zstd", "1G" },
        { "qcow2", "compression_type=zlib", "1G" },
        { "qcow2", "extended_l2=on", "8M" },
        { "qcow2", "extended_l2=off,refcount_bits=8", "8M" },
        { "qcow2", "backing_file=base.qcow2,backing_fmt=qcow2", "" },
        { "qcow2", "backing_file=flat.raw,backing_fmt=raw,cluster_size=8k", "8M" },
        { "qcow2", "size=3M", "" },
        { "raw", "", "1M" },
        { "raw", "preallocation=falloc", "1M" },
        { "raw", "preallocation=full", "1M" },
        { "raw", "preallocation=off", "0.5G" },
        { "qcow2", "extent_size_hint=1M,nocow=off", "1M" },
        { "raw", "extent_size_hint=0", "1M" },
    };

    [Theory]
    [MemberData(nameof(CreateCases))]
    public void CreateWithEachOption(string fmt, string options, string size)
    {
        Inputs();
        var args = new List<string> { "create", "-f", fmt };
        if (options.Length > 0)
        {
            args.AddRange(["-o", options]);
        }

        args.Add($"new.{fmt}");
        if (size.Length > 0)
        {
            args.Add(size);
        }

        Both([.. args]);
        Twins($"new.{fmt}");
    }

    public static TheoryData<string> ConvertCases => new()
    {
        "-O qcow2",
        "-O raw",
        "-f qcow2 -O qcow2 -o cluster_size=4k,lazy_refcounts=on",
        "-O qcow2 -o compat=0.10",
        "-c -O qcow2",
        "-c -O qcow2 -o compression_type=zstd",
        "-O qcow2 -o preallocation=metadata",
        "-O raw -o preallocation=full",
        "-O qcow2 -B base.qcow2 -F qcow2",
        "-O qcow2 -S 0",
        "-O raw -S 64k",
        "-O qcow2 -W -m 1",
        "-O qcow2 -m 16",
        "-O qcow2 -q -o extended_l2=on",
        "-O qcow2 -t writeback -T writeback -C -r 1G -U",
    };

    [Theory]
    [MemberData(nameof(ConvertCases))]
    public void ConvertWithEachFlag(string flags)
    {
        Inputs();
        var f = flags.Split(' ');
        Both(["convert", .. f, "top.qcow2", "out.img"]);
        Twins("out.img", sameInfo: !flags.Contains("-c", StringComparison.Ordinal));
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("top.qcow2"), _v.File("out.img")).Exit);
    }

    /// <summary>
    /// A raw target is allocated run by run just before each write: it must end up with the same data and
    /// holes as qemu-img's, block for block, including the zero pages -S leaves out of a data run. A qcow2
    /// target's fresh clusters are allocated the same way.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("-S 64k")]
    [InlineData("-S 0")]
    public void ConvertToRawAllocatesWhatQemuImgAllocates(string sparse)
    {
        foreach (var d in new[] { _q, _v })
        {
            // 1 MiB runs of data, each with two zero pages and a zero 64 KiB inside, stored as data (-S 0).
            Qemu.Img("create", "-q", "-f", "raw", d.File("pages.raw"), "8M");
            Qemu.Io(d.File("pages.raw"), "raw", "write -P 6 0 1M", "write -z 8k 4k", "write -z 512k 64k", "write -P 7 3M 2M", "write -z 4M 4k", "write -P 8 7M 1M");
            Qemu.Img("convert", "-S", "0", "-O", "qcow2", d.File("pages.raw"), d.File("pages.qcow2"));
        }

        string[] flags = sparse.Length == 0 ? [] : sparse.Split(' ');
        Both(["convert", .. flags, "-O", "raw", "pages.qcow2", "out.raw"]);
        Twins("out.raw");
        Assert.Equal(QemuImg(_q.Path, "map", "--output=json", "out.raw").Out, QemuImg(_v.Path, "map", "--output=json", "out.raw").Out);
        long blocks = DataBlocks(_q.File("out.raw"));
        Assert.True(blocks > 0, "filefrag -v: no extents parsed");
        Assert.Equal(blocks, DataBlocks(_v.File("out.raw")));

        // A qcow2 target allocates its fresh clusters ahead too: all of them written, none left unwritten.
        Both(["convert", .. flags, "-O", "qcow2", "pages.raw", "out.qcow2"]);
        Twins("out.qcow2");
        Assert.True(DataBlocks(_v.File("out.qcow2")) > 0);
    }

    /// <summary>
    /// The data blocks of a file once written back, none of them allocated but unwritten (which SEEK_DATA,
    /// and so map, would show as holes). du would also count ext4's extent-tree blocks, and how many of
    /// those a file needs depends on what else the file system allocated at the time.
    /// </summary>
    private static long DataBlocks(string path)
    {
        Qemu.Run("sync", path);
        var frag = Qemu.Run("filefrag", "-v", path);
        if (frag.Exit != 0)
        {
            // No FIEMAP here (tmpfs): no extent tree either.
            return long.Parse(Qemu.Run("du", "-k", path).Out.Split('\t')[0], CultureInfo.InvariantCulture);
        }

        long blocks = 0;
        foreach (Match m in FileFragExtent().Matches(frag.Out))
        {
            Assert.DoesNotContain("unwritten", m.Groups[2].Value, StringComparison.Ordinal);
            blocks += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        return blocks;
    }

    // filefrag -v: "   0:        0..     127:   54151138..  54151262:    128:             last,eof"
    [GeneratedRegex(@"^\s*\d+:\s+\d+\.\.\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+):[ \d]*(.*)$", RegexOptions.Multiline)]
    private static partial Regex FileFragExtent();

    [Fact]
    public void ConvertIntoAnExistingImageAndCreateOverABackingFile()
    {
        Inputs();

        // Into an existing image (-n), with and without --target-is-zero.
        foreach (var d in new[] { _q, _v })
        {
            Qemu.Img("create", "-q", "-f", "qcow2", d.File("existing.qcow2"), "4M");
            Qemu.Img("create", "-q", "-f", "qcow2", d.File("zeroed.qcow2"), "4M");
        }

        Both("convert", "-n", "-O", "qcow2", "flat.raw", "existing.qcow2");
        Twins("existing.qcow2");
        Both("convert", "-n", "--target-is-zero", "-O", "qcow2", "top.qcow2", "zeroed.qcow2");
        Twins("zeroed.qcow2");
        Both("convert", "-O", "qcow2", "base.qcow2", "flat.raw", "two.qcow2");
        Twins("two.qcow2");

        Both("create", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2", "-o", "cluster_size=4k", "new2.qcow2", "6M");
        Twins("new2.qcow2");
        Both("create", "-q", "-f", "qcow2", "-u", "-b", "nosuch.qcow2", "-F", "qcow2", "new3.qcow2", "1M");
    }

    [Fact]
    public void ResizeGrowsAndShrinksAsQemuImg()
    {
        Inputs();
        Both("resize", "base.qcow2", "+1M");
        Twins("base.qcow2");
        Both("resize", "--shrink", "base.qcow2", "-2M");
        Twins("base.qcow2");
        Both("resize", "-q", "base.qcow2", "6M");
        Twins("base.qcow2");
        Both("resize", "-f", "raw", "flat.raw", "5M");
        Twins("flat.raw");
        Both("resize", "--shrink", "flat.raw", "1000k");
        Twins("flat.raw");
        Both("resize", "flat.raw", "1000k");

        // With internal snapshots (qemu-img 7.2 allows it for v3): each snapshot keeps its own size.
        Qemu.Img("convert", "-O", "raw", _v.File("top.qcow2"), _v.File("four.raw"));
        Both("snapshot", "-c", "four", "top.qcow2");
        Both("resize", "top.qcow2", "+1M");
        Twins("top.qcow2");
        Both("resize", "--shrink", "top.qcow2", "3M");
        Twins("top.qcow2");
        Both("snapshot", "-a", "four", "top.qcow2");
        Twins("top.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("top.qcow2"), _v.File("four.raw")).Exit);
        Both("amend", "-o", "compat=0.10", "base.qcow2");
        Both("snapshot", "-c", "two", "base.qcow2");
        Both("resize", "base.qcow2", "+1M");
    }

    [Fact]
    public void SnapshotCreateApplyDeleteAsQemuImg()
    {
        Inputs();
        Both("snapshot", "-c", "first", "top.qcow2");
        foreach (var d in new[] { _q, _v })
        {
            Qemu.Io(d.File("top.qcow2"), "qcow2", "write -P 9 0 128k", "write -z 3M 64k");
        }

        Both("snapshot", "-c", "second", "top.qcow2");
        Twins("top.qcow2", sameInfo: false);

        // The table lists dates, so both tools read the same file.
        Assert.Equal(QemuImg(_v.Path, "snapshot", "-l", "top.qcow2").Out, VireoImg(_v.Path, "snapshot", "-l", "top.qcow2").Out);
        Both("snapshot", "-a", "first", "top.qcow2");
        Twins("top.qcow2", sameInfo: false);
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("top.qcow2"), _v.File("flat.raw")).Exit);
        Both("snapshot", "-d", "second", "top.qcow2");
        Both("snapshot", "-d", "first", "top.qcow2");
        Twins("top.qcow2");
    }

    [Fact]
    public void RebaseSafeAndUnsafeAsQemuImg()
    {
        Inputs();
        foreach (var d in new[] { _q, _v })
        {
            Qemu.Img("create", "-q", "-f", "qcow2", d.File("other.qcow2"), "4M");
            Qemu.Io(d.File("other.qcow2"), "qcow2", "write -P 8 512k 1M");
        }

        Both("rebase", "-b", "other.qcow2", "-F", "qcow2", "top.qcow2");
        Twins("top.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("top.qcow2"), _v.File("flat.raw")).Exit);
        Both("rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        Twins("top.qcow2");
        Both("rebase", "-b", "", "top.qcow2");
        Twins("top.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("top.qcow2"), _v.File("flat.raw")).Exit);
    }

    [Fact]
    public void CommitAmendAndDdAsQemuImg()
    {
        Inputs();
        Both("commit", "-d", "top.qcow2");
        Twins("base.qcow2");
        Twins("top.qcow2");
        Both("commit", "-b", "base.qcow2", "top.qcow2");
        Twins("base.qcow2");
        Twins("top.qcow2");
        Assert.Equal(0, Qemu.Run("qemu-img", "compare", _v.File("base.qcow2"), _v.File("flat.raw")).Exit);

        Both("amend", "-o", "lazy_refcounts=on", "top.qcow2");
        Twins("top.qcow2");
        Both("amend", "-o", "compat=0.10", "top.qcow2");
        Twins("top.qcow2");
        Both("amend", "-o", "compat=1.1,lazy_refcounts=off", "top.qcow2");
        Twins("top.qcow2");

        Both("dd", "if=flat.raw", "of=dd1.raw");
        Twins("dd1.raw");
        Both("dd", "-O", "qcow2", "bs=64k", "count=20", "skip=3", "if=base.qcow2", "of=dd2.qcow2");
        Twins("dd2.qcow2");
        Both("dd", "-f", "raw", "-O", "raw", "bs=1M", "count=2", "if=flat.raw", "of=dd3.raw");
        Twins("dd3.raw");
        Both("dd", "bs=4k", "skip=100", "if=base.qcow2", "of=dd4.raw");
        Twins("dd4.raw");
    }
}
