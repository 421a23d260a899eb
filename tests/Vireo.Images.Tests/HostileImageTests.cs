using System.Buffers.Binary;
using System.Diagnostics;

namespace Vireo.Images.Tests;

/// <summary>
/// Hostile images: every malformed input must end in an <see cref="ImageException"/> with a message (or be
/// read consistently), never another exception, a hang or unbounded memory. Inputs that ever failed that
/// way are kept under corpus/ and replayed.
/// </summary>
public sealed class HostileImageTests
{
    private static string CorpusDir => Path.Combine(SourceDir(), "corpus");

    private static string SourceDir([System.Runtime.CompilerServices.CallerFilePath] string file = "") =>
        Path.GetDirectoryName(file)!;

    /// <summary>Opens, reads, maps and checks; returns the exception if any other than ImageException escaped.</summary>
    private static Exception? Exercise(string path)
    {
        try
        {
            using (var img = DiskImage.Open(path, ImageFormat.Qcow2, readOnly: true))
            {
                long step = Math.Max(img.VirtualSize / 64, 512);
                var buf = new byte[4096];
                for (long off = 0; off + buf.Length <= img.VirtualSize && off < 64L << 20; off += step)
                {
                    img.ReadAsync(off, buf).AsTask().GetAwaiter().GetResult();
                }

                DiskImage.MapAsync(img).GetAwaiter().GetResult();
            }

            DiskImage.Inspect(path, ImageFormat.Qcow2);
            DiskImage.Check(path, CheckRepair.None, ImageFormat.Qcow2);
            using (var rw = DiskImage.Open(path, ImageFormat.Qcow2, options: new ImageOpenOptions { NoBacking = true }))
            {
                if (rw.VirtualSize >= 70000)
                {
                    rw.WriteAsync(4096, new byte[65536]).AsTask().GetAwaiter().GetResult();
                }
            }

            return null;
        }
        catch (ImageException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Convert maps long data extents: one whose clusters lie (partly) past the end of the file must end in
    /// an ImageException, never in a SIGBUS from touching a page beyond the end.
    /// </summary>
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public async Task ConvertOfTruncatedDataFailsCleanly(double keep)
    {
        using var d = new TempDir();
        string img = d.File("t.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", img, "8M");
        Qemu.Io(img, "qcow2", "write -P 7 0 4M");
        long len = new FileInfo(img).Length;
        using (var fs = new FileStream(img, FileMode.Open))
        {
            fs.SetLength((long)(len * keep) & ~4095L);
        }

        var e = await Assert.ThrowsAsync<ImageException>(() => DiskImage.ConvertAsync(new ConvertOptions
        {
            Sources = [img],
            Destination = d.File("out.raw"),
            DestinationFormat = ImageFormat.Raw,
        }));
        Assert.Contains("past the end", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorpusInputsFailCleanly()
    {
        var files = Directory.GetFiles(CorpusDir, "*.qcow2");
        Assert.NotEmpty(files);
        using var d = new TempDir();
        foreach (var f in files)
        {
            string copy = d.File(Path.GetFileName(f));
            File.Copy(f, copy, overwrite: true);
            var e = Exercise(copy);
            Assert.True(e is null, $"{Path.GetFileName(f)}: {e}");
        }
    }

    /// <summary>Seeded mutations of the header and metadata clusters of small valid images.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MutatedMetadataFailsCleanly(int seed)
    {
        using var d = new TempDir();
        string seedImg = d.File("seed.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", seed == 2 ? "cluster_size=512,refcount_bits=4" : "cluster_size=512", seedImg, "1M");
        Qemu.Io(seedImg, "qcow2", "write -P 1 0 3k", "write -z 8k 2k", "write -P 2 600k 1k");
        if (seed == 3)
        {
            Qemu.Img("snapshot", "-c", "s1", seedImg);
            Qemu.Io(seedImg, "qcow2", "write -P 3 0 1k");
        }

        var original = File.ReadAllBytes(seedImg);
        var rnd = new Random(seed);
        string victim = d.File("victim.qcow2");
        for (int iter = 0; iter < 300; iter++)
        {
            var bytes = (byte[])original.Clone();
            int flips = rnd.Next(1, 6);
            for (int f = 0; f < flips; f++)
            {
                // Mostly the header and the first metadata clusters, where the parsers look.
                int pos = rnd.Next(3) == 0 ? rnd.Next(bytes.Length) : rnd.Next(Math.Min(bytes.Length, 512 * 8));
                switch (rnd.Next(3))
                {
                    case 0: bytes[pos] ^= (byte)(1 << rnd.Next(8)); break;
                    case 1: bytes[pos] = (byte)rnd.Next(256); break;
                    default:
                        if (pos + 8 <= bytes.Length)
                        {
                            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(pos), rnd.Next(2) == 0 ? ulong.MaxValue >> rnd.Next(64) : (ulong)rnd.NextInt64());
                        }

                        break;
                }
            }

            if (rnd.Next(8) == 0)
            {
                Array.Resize(ref bytes, rnd.Next(bytes.Length));
            }

            File.WriteAllBytes(victim, bytes);
            var one = Stopwatch.StartNew();
            var e = Exercise(victim);
            if (e is null && one.Elapsed > TimeSpan.FromSeconds(10))
            {
                e = new TimeoutException($"took {one.Elapsed}");
            }

            if (e is not null)
            {
                string keep = Path.Combine(CorpusDir, $"fuzz-{seed}-{iter}.qcow2");
                File.WriteAllBytes(keep, bytes);
                Assert.Fail($"iteration {iter}: {e.GetType().Name}: {e.Message} (input kept as {keep})\n{e}");
            }
        }

            }

    [Fact]
    public void BackingLoopsAreRefused()
    {
        using var d = new TempDir();
        string a = d.File("a.qcow2");
        string b = d.File("b.qcow2");
        DiskImage.Create(a, new ImageCreateOptions { Size = 1 << 20 }).Dispose();
        DiskImage.Create(b, new ImageCreateOptions { BackingFile = "a.qcow2", BackingFormat = ImageFormat.Qcow2 }).Dispose();
        Qemu.Img("rebase", "-u", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(b, readOnly: true));
        Assert.Contains("loop", e.Message, StringComparison.Ordinal);
        Qemu.Img("rebase", "-u", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", a);
        Assert.Throws<ImageException>(() => DiskImage.Open(a, readOnly: true));
    }

    [Fact]
    public void CorruptBitRefusesWrites()
    {
        using var d = new TempDir();
        string a = d.File("a.qcow2");
        DiskImage.Create(a, new ImageCreateOptions { Size = 1 << 20 }).Dispose();
        using (var fs = File.OpenWrite(a))
        {
            fs.Position = 79;
            fs.WriteByte(2);
        }

        Assert.True(DiskImage.Inspect(a).Corrupt);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(a));
        Assert.Contains("corrupt", e.Message, StringComparison.Ordinal);
        using var ro = DiskImage.Open(a, readOnly: true);
        Assert.Equal(1 << 20, ro.VirtualSize);
    }
}
