using System.Buffers.Binary;
using System.Text.Json;

namespace Vireo.Images.Tests;

/// <summary>
/// Persistent dirty bitmaps made by qemu-img are kept up to date by Vireo's writes, and read back by qemu itself
/// (qemu-nbd exports a bitmap; qemu-img map shows its dirty ranges). Also: images with an external data file
/// that qemu made read byte for byte.
/// </summary>
public sealed class BitmapAndDataFileTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task WritesZeroesAndDiscardsMarkAutoBitmapsAndLeaveDisabledOnesAlone()
    {
        using var d = new TempDir();
        string img = d.File("b.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", img, "16M");
        Qemu.Io(img, "qcow2", "write -P 0x11 0 1M");
        Qemu.Img("bitmap", "--add", img, "coarse");
        Qemu.Img("bitmap", "--add", "--granularity", "4096", img, "fine");
        Qemu.Img("bitmap", "--add", "--disable", img, "off");
        var before = ImageBytes.ReadAll(img);

        using (var w = DiskImage.Open(img))
        {
            await w.WriteAsync(4 * MiB, new byte[100 * 1024]);
            await w.WriteAsync((9 * MiB) + 5000, new byte[10]);

            // While the image is open the bitmaps are flagged in use on disk: a writer killed now leaves them
            // marked inconsistent, never silently stale.
            var open = InfoJson(img);
            Assert.All(Bitmaps(open).Where(b => b.Name != "off"), b => Assert.Contains("in-use", b.Flags));

            await w.WriteZeroesAsync(12 * MiB, 128 * 1024);
            before.AsSpan((int)(4 * MiB), 100 * 1024).Clear();
            before.AsSpan((int)(9 * MiB) + 5000, 10).Clear();
            before.AsSpan((int)(12 * MiB), 128 * 1024).Clear();
        }

        Qemu.AssertClean(img);
        Assert.Equal(before, ImageBytes.ReadAll(img));
        var info = Bitmaps(InfoJson(img));
        Assert.Equal(["coarse", "fine", "off"], info.Select(b => b.Name));
        Assert.All(info, b => Assert.DoesNotContain("in-use", b.Flags));

        Assert.Equal(
            [(4 * MiB, 128 * 1024), (9 * MiB, 64 * 1024), (12 * MiB, 128 * 1024)],
            DirtyRanges(d, img, "coarse"));
        Assert.Equal(
            [(4 * MiB, 100 * 1024), ((9 * MiB) + 4096, 4096), (12 * MiB, 128 * 1024)],
            DirtyRanges(d, img, "fine"));
        Assert.Empty(DirtyRanges(d, img, "off"));

        // qemu keeps tracking on top of what Vireo saved.
        Qemu.Io(img, "qcow2", "write -P 0x22 15M 64k");
        Assert.Contains((15 * MiB, 64 * 1024), DirtyRanges(d, img, "coarse"));
        Qemu.AssertClean(img);
    }

    [Fact]
    public void ApplyingASnapshotMarksTheWholeDiskWithoutBitmapDataClusters()
    {
        using var d = new TempDir();
        string img = d.File("s.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", img, "8G");
        Qemu.Io(img, "qcow2", "write -P 0x11 0 64k");
        Qemu.Img("snapshot", "-c", "base", img);
        Qemu.Img("bitmap", "--add", "--granularity", "512", img, "all");
        long sizeBefore = new FileInfo(img).Length;

        DiskImage.Snapshot(img, SnapshotAction.Apply, "base");

        Qemu.AssertClean(img);
        Assert.Equal([(0L, 8L << 30)], DirtyRanges(d, img, "all"));

        // 8 GiB at 512-byte granularity is 2 MiB of bitmap: whole clusters become all-ones table entries instead.
        Assert.True(new FileInfo(img).Length - sizeBefore < MiB, $"the image grew by {new FileInfo(img).Length - sizeBefore} bytes");
    }

    /// <summary>
    /// Grow, shrink and grow again, by qemu-img on one copy and by Vireo on another: every bitmap (auto, disabled,
    /// several table clusters, a last data cluster cut in the middle) holds the same bits afterwards as qemu's,
    /// passes qemu-img check, and qemu keeps tracking on it.
    /// </summary>
    [Fact]
    public void ResizeResizesTheBitmapsAsQemuImgDoes()
    {
        using var d = new TempDir();
        string q = d.File("q.qcow2");
        string v = d.File("v.qcow2");

        // 4 KiB clusters: a data cluster of a 512-byte-granularity bitmap covers 16 MiB of disk.
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", q, "40M");
        Qemu.Img("bitmap", "--add", "--granularity", "512", q, "fine");
        Qemu.Img("bitmap", "--add", q, "coarse");
        Qemu.Img("bitmap", "--add", "--granularity", "512", q, "frozen");
        Qemu.Io(q, "qcow2", "write -P 1 1M 64k", "write -P 2 18M 64k", "write -P 3 21M 1M", "write -P 4 35M 64k");
        Qemu.Img("bitmap", "--disable", q, "frozen");
        Qemu.Io(q, "qcow2", "write -P 5 30M 4k");
        File.Copy(q, v);
        string[] names = ["fine", "coarse", "frozen"];

        foreach (var (size, shrink) in new[] { (60 * MiB, false), (20 * MiB, true), ((50 * MiB) + 512, false) })
        {
            Qemu.Img(shrink ? ["resize", "-q", "--shrink", q, $"{size}"] : ["resize", "-q", q, $"{size}"]);
            DiskImage.Resize(v, size, shrink);
            Qemu.AssertClean(v);
            Assert.Equal(size, DiskImage.Inspect(v).VirtualSize);
            Assert.Equal(Bitmaps(InfoJson(q)), Bitmaps(InfoJson(v)), new BitmapListComparer());
            foreach (var name in names)
            {
                Assert.Equal(DirtyRanges(d, q, name), DirtyRanges(d, v, name));
            }
        }

        Assert.Equal([(MiB, 64 * 1024), (18 * MiB, 64 * 1024)], DirtyRanges(d, v, "fine"));

        // qemu keeps tracking at the new size, past the old end too.
        Qemu.Io(v, "qcow2", "write -P 6 45M 4k");
        Assert.Contains((45 * MiB, 4096), DirtyRanges(d, v, "fine"));
        Qemu.AssertClean(v);
    }

    [Fact]
    public void ResizeRefusesAnInconsistentOrDamagedBitmapAndChangesNothing()
    {
        using var d = new TempDir();
        string img = ImageWithBitmap(d, "r.qcow2");
        SetBitmapFlagBit(img, 1); // in_use: left by a writer that died
        var bytes = File.ReadAllBytes(img);

        var e = Assert.Throws<ImageException>(() => DiskImage.Resize(img, 8 * MiB, shrink: false));
        Assert.Contains("Bitmap 'b0' is inconsistent", e.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(img));
        Assert.NotEqual(0, Qemu.Run("qemu-img", "resize", img, "8M").Exit); // qemu-img refuses too

        // A table entry pointing into the middle of a cluster: its "cluster" would be freed, so it is refused.
        string bad = ImageWithBitmap(d, "bad.qcow2");
        Qemu.Io(bad, "qcow2", "write 0 64k");
        long table = 0;
        PatchBitmapEntry(bad, 0, dirEntry => table = (long)BinaryPrimitives.ReadUInt64BigEndian(dirEntry));
        using (var f = File.Open(bad, FileMode.Open, FileAccess.ReadWrite))
        {
            var entry = new byte[8];
            f.Position = table;
            f.ReadExactly(entry);
            Assert.NotEqual(0UL, BinaryPrimitives.ReadUInt64BigEndian(entry));
            BinaryPrimitives.WriteUInt64BigEndian(entry, BinaryPrimitives.ReadUInt64BigEndian(entry) + 512);
            f.Position = table;
            f.Write(entry);
        }

        bytes = File.ReadAllBytes(bad);
        e = Assert.Throws<ImageException>(() => DiskImage.Resize(bad, 8 * MiB, shrink: false));
        Assert.Contains("table entry", e.Message, StringComparison.Ordinal);
        using (var w = DiskImage.Open(bad))
        {
            var refused = Assert.Throws<ImageException>(() => w.WriteAsync(0, new byte[512]).AsTask().GetAwaiter().GetResult());
            Assert.Contains("table entry", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(bytes, File.ReadAllBytes(bad));
    }

    [Fact]
    public void ABitmapVireoCannotTrackStopsTheFirstWrite()
    {
        using var d = new TempDir();
        string img = ImageWithBitmap(d, "r.qcow2");

        // A reserved flag bit Vireo does not know: it must not write data the bitmap would then miss.
        SetBitmapFlagBit(img, 1u << 5);
        var bytes = File.ReadAllBytes(img);
        using (var w = DiskImage.Open(img))
        {
            var refused = Assert.Throws<ImageException>(() => w.WriteAsync(0, new byte[512]).AsTask().GetAwaiter().GetResult());
            Assert.Contains("bitmap 'b0' has reserved flags 0x22", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(bytes, File.ReadAllBytes(img));
        Assert.Throws<ImageException>(() => DiskImage.Resize(img, 8 * MiB, shrink: false));
        Assert.Equal(bytes, File.ReadAllBytes(img));
    }

    [Fact]
    public void ADamagedBitmapDirectoryRefusesDataWritesButNotOpeningOrChecking()
    {
        using var d = new TempDir();
        string img = ImageWithBitmap(d, "x.qcow2");
        PatchBitmapsExtension(img, ext => BinaryPrimitives.WriteUInt64BigEndian(ext[16..], 1UL << 40)); // directory past EOF
        var bytes = File.ReadAllBytes(img);

        using (var w = DiskImage.Open(img))
        {
            var refused = Assert.Throws<ImageException>(() => w.WriteAsync(0, new byte[512]).AsTask().GetAwaiter().GetResult());
            Assert.Contains("bitmap directory", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(bytes, File.ReadAllBytes(img));
        Assert.Contains(DiskImage.Check(img).Messages, m => m.Contains("bitmap directory", StringComparison.Ordinal));
        Assert.Empty(DiskImage.Inspect(img).Bitmaps);
    }

    /// <summary>
    /// Bitmap tables are bounded as hostile input: one table beyond 32 MiB is refused as damage (check reports
    /// it, data writes are refused) without reading it, and tables that are each valid but together exceed the
    /// 64 MiB held in memory for tracking refuse data writes, never allocating them all.
    /// </summary>
    [Fact]
    public async Task BitmapTablesAreBoundedBothAloneAndTogether()
    {
        using var d = new TempDir();

        // One table of 5M entries (40 MiB) inside a sparse file: consistent with nothing, refused by size alone.
        string one = d.File("one.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", one, "1G");
        Qemu.Img("bitmap", "--add", one, "huge");
        using (var f = File.Open(one, FileMode.Open, FileAccess.ReadWrite))
        {
            f.SetLength(64L << 20);
        }

        PatchBitmapEntry(one, 0, e => BinaryPrimitives.WriteUInt32BigEndian(e[8..], 5u << 20));
        var bytes = File.ReadAllBytes(one);
        Assert.Contains(DiskImage.Check(one).Messages, m => m.Contains("larger than the 32 MiB", StringComparison.Ordinal));
        using (var w = DiskImage.Open(one))
        {
            var refused = await Assert.ThrowsAsync<ImageException>(() => w.WriteAsync(0, new byte[512]).AsTask());
            Assert.Contains("bitmap 0 table of 5242880 entries", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(bytes, File.ReadAllBytes(one));

        // Three bitmaps of 512-byte granularity on a 768 TiB disk (64 KiB clusters: an entry covers 256 MiB):
        // 3M entries, 24 MiB of table each, all zero (no bit set) in a sparse file. qemu caps a bitmap at
        // 512 MiB of bits and would not make these; the directory entries are rewritten to describe them.
        string three = d.File("three.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", three, "768T");
        foreach (var name in new[] { "a", "b", "c" })
        {
            Qemu.Img("bitmap", "--add", "--granularity", "2G", three, name);
        }

        long end = (new FileInfo(three).Length + 65535) & ~65535L; // tables start on a cluster
        const uint Entries = 3u << 20;
        for (int i = 0; i < 3; i++)
        {
            long table = end + (i * (24L << 20));
            PatchBitmapEntry(three, i, e =>
            {
                BinaryPrimitives.WriteUInt64BigEndian(e, (ulong)table);
                BinaryPrimitives.WriteUInt32BigEndian(e[8..], Entries);
                e[17] = 9; // granularity 2^9
            });
        }

        using (var f = File.Open(three, FileMode.Open, FileAccess.ReadWrite))
        {
            f.SetLength(end + (72L << 20));
        }

        bytes = File.ReadAllBytes(three);
        using (var w = DiskImage.Open(three))
        {
            var refused = await Assert.ThrowsAsync<ImageException>(() => w.WriteAsync(0, new byte[512]).AsTask());
            Assert.Contains("bitmap 'c' has tables beyond the 64 MiB Vireo holds in memory", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(bytes, File.ReadAllBytes(three));
        Assert.Equal(["a", "b", "c"], DiskImage.Inspect(three).Bitmaps.Select(b => b.Name));
    }

    [Theory]
    [InlineData("data_file_raw=off")]
    [InlineData("data_file_raw=on")]
    public void ReadsImagesWithAnExternalDataFileByteForByte(string raw)
    {
        using var d = new TempDir();
        string img = d.File("x.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", $"data_file={d.File("x.data")},{raw}", img, "4M");
        Qemu.Io(img, "qcow2", "write -P 0x5a 0 100k", "write -P 0x6b 2M 64k", "write -z 3M 64k");
        string expected = d.File("x.raw");
        Qemu.Img("convert", "-O", "raw", img, expected);
        Assert.Equal(File.ReadAllBytes(expected), ImageBytes.ReadAll(img));

        var info = DiskImage.Inspect(img);
        Assert.Equal(d.File("x.data"), info.DataFile);
        Assert.Equal(raw.EndsWith("on", StringComparison.Ordinal), info.DataFileRaw);
        var refused = Assert.Throws<ImageException>(() => DiskImage.Open(img).Dispose());
        Assert.Contains("external data file", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A 4 MiB qcow2 made by qemu-img with one auto bitmap, b0.</summary>
    private static string ImageWithBitmap(TempDir d, string name)
    {
        string img = d.File(name);
        Qemu.Img("create", "-q", "-f", "qcow2", img, "4M");
        Qemu.Img("bitmap", "--add", img, "b0");
        return img;
    }

    private static JsonElement InfoJson(string img) =>
        JsonDocument.Parse(Qemu.Img("info", "--force-share", "--output=json", img)).RootElement;

    private static List<(string Name, List<string> Flags)> Bitmaps(JsonElement info) =>
        info.GetProperty("format-specific").GetProperty("data").GetProperty("bitmaps").EnumerateArray()
            .Select(b => (b.GetProperty("name").GetString()!, b.GetProperty("flags").EnumerateArray().Select(f => f.GetString()!).ToList()))
            .ToList();

    /// <summary>The bitmap's set ranges as qemu sees them: qemu-nbd exports it, and qemu-img map reports dirty as data=false.</summary>
    private static List<(long Start, long Length)> DirtyRanges(TempDir d, string img, string bitmap)
    {
        string sock = d.File("nbd.sock");
        string pid = d.File("nbd.pid");
        File.Delete(sock);
        var (exit, o, e) = Qemu.Run("qemu-nbd", "--read-only", "--fork", "--pid-file", pid, "--socket", sock, "--format", "qcow2", "--bitmap", bitmap, img);
        Assert.True(exit == 0, $"qemu-nbd failed: {o}{e}");
        try
        {
            string map = Qemu.Img("map", "--output=json", "--image-opts",
                $"driver=nbd,server.type=unix,server.path={sock},x-dirty-bitmap=qemu:dirty-bitmap:{bitmap}");
            return JsonDocument.Parse(map).RootElement.EnumerateArray()
                .Where(x => !x.GetProperty("data").GetBoolean())
                .Select(x => (x.GetProperty("start").GetInt64(), x.GetProperty("length").GetInt64()))
                .ToList();
        }
        finally
        {
            // Without --persistent qemu-nbd exits after its one client; make sure of it.
            if (File.Exists(pid) && int.TryParse(File.ReadAllText(pid).Trim(), out int p))
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(p).Kill();
                }
                catch (ArgumentException)
                {
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }

    /// <summary>Sets a flag bit of the first bitmap directory entry in place.</summary>
    private static void SetBitmapFlagBit(string img, uint bit)
    {
        long dir = 0;
        PatchBitmapsExtension(img, ext => dir = (long)BinaryPrimitives.ReadUInt64BigEndian(ext[16..]));
        using var f = File.Open(img, FileMode.Open, FileAccess.ReadWrite);
        var flags = new byte[4];
        f.Position = dir + 12;
        f.ReadExactly(flags);
        BinaryPrimitives.WriteUInt32BigEndian(flags, BinaryPrimitives.ReadUInt32BigEndian(flags) | bit);
        f.Position = dir + 12;
        f.Write(flags);
    }

    /// <summary>Lets <paramref name="patch"/> change directory entry <paramref name="index"/> (its fixed 24 bytes) in place.</summary>
    private static void PatchBitmapEntry(string img, int index, SpanAction patch)
    {
        long dir = 0;
        PatchBitmapsExtension(img, ext => dir = (long)BinaryPrimitives.ReadUInt64BigEndian(ext[16..]));
        using var f = File.Open(img, FileMode.Open, FileAccess.ReadWrite);
        var e = new byte[24];
        long pos = dir;
        for (int i = 0; ; i++)
        {
            f.Position = pos;
            f.ReadExactly(e);
            if (i == index)
            {
                patch(e);
                f.Position = pos;
                f.Write(e);
                return;
            }

            int extra = (int)BinaryPrimitives.ReadUInt32BigEndian(e.AsSpan(20));
            int name = BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(18));
            pos += (24 + extra + name + 7) & ~7;
        }
    }

    /// <summary>Lets <paramref name="patch"/> read and change the bitmaps header extension's data in place.</summary>
    private static void PatchBitmapsExtension(string img, SpanAction patch)
    {
        using var f = File.Open(img, FileMode.Open, FileAccess.ReadWrite);
        var h = new byte[4096];
        f.ReadExactly(h);
        int pos = (int)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(100)); // header_length: extensions follow
        while (true)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(pos));
            int len = (int)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(pos + 4));
            Assert.NotEqual(0u, type);
            if (type == 0x23852875)
            {
                patch(h.AsSpan(pos + 8, len));
                f.Position = pos + 8;
                f.Write(h, pos + 8, len);
                return;
            }

            pos += 8 + ((len + 7) & ~7);
        }
    }

    private delegate void SpanAction(Span<byte> data);

    private sealed class BitmapListComparer : IEqualityComparer<List<(string Name, List<string> Flags)>>
    {
        public bool Equals(List<(string Name, List<string> Flags)>? x, List<(string Name, List<string> Flags)>? y) =>
            x is not null && y is not null && x.Count == y.Count && x.Zip(y).All(p => p.First.Name == p.Second.Name && p.First.Flags.SequenceEqual(p.Second.Flags));

        public int GetHashCode(List<(string Name, List<string> Flags)> obj) => obj.Count;
    }
}
