namespace Vireo.Images.Tests;

/// <summary>Both directions against the real qemu-img: its images read byte for byte, ours pass its check and compare.</summary>
public sealed class InteropTests
{
    public static TheoryData<string> QemuCreateOptions => new()
    {
        "cluster_size=65536",
        "cluster_size=512",
        "cluster_size=2M",
        "compat=0.10",
        "refcount_bits=1",
        "refcount_bits=64,cluster_size=4096",
        "extended_l2=on,cluster_size=32k",
        "lazy_refcounts=on",
        "preallocation=metadata",
    };

    [Theory]
    [MemberData(nameof(QemuCreateOptions))]
    public void ReadsQemuMadeImagesByteForByte(string options)
    {
        using var d = new TempDir();
        string img = d.File("q.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-o", options, img, "4M");
        Qemu.Io(img, "qcow2", "write -P 0x11 0 100k", "write -P 0x22 1000k 3k", "write -z 2M 128k", "write -P 0x33 3M 512", "discard 0 64k", "write -P 0x44 4190208 4096");
        string raw = d.File("q.raw");
        Qemu.Img("convert", "-O", "raw", img, raw);
        Assert.Equal(File.ReadAllBytes(raw), ImageBytes.ReadAll(img));
    }

    [Fact]
    public void ReadsCompressedAndChainedQemuImages()
    {
        using var d = new TempDir();
        string src = d.File("src.raw");
        var rnd = new Random(7);
        var data = new byte[3 << 20];
        for (int i = 0; i < data.Length; i += 4096)
        {
            if (i % (64 << 10) < (32 << 10))
            {
                var text = System.Text.Encoding.ASCII.GetBytes($"block {i} ");
                for (int j = 0; j < 4096; j++)
                {
                    data[i + j] = text[j % text.Length];
                }
            }
            else if (rnd.Next(3) == 0)
            {
                rnd.NextBytes(data.AsSpan(i, 4096));
            }
        }

        File.WriteAllBytes(src, data);
        string comp = d.File("c.qcow2");
        Qemu.Img("convert", "-c", "-O", "qcow2", src, comp);
        Assert.Equal(data, ImageBytes.ReadAll(comp));

        // raw <- qcow2 <- qcow2 chain, overlays written by qemu-io.
        string mid = d.File("mid.qcow2");
        string top = d.File("top.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "c.qcow2", "-F", "qcow2", mid);
        Qemu.Io(mid, "qcow2", "write -P 0x55 64k 64k", "write -z 128k 4k");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top);
        Qemu.Io(top, "qcow2", "write -P 0x66 130k 10k");
        string flat = d.File("flat.raw");
        Qemu.Img("convert", "-O", "raw", top, flat);
        Assert.Equal(File.ReadAllBytes(flat), ImageBytes.ReadAll(top));
    }

    [Theory]
    [InlineData(65536, 16, 3, false)]
    [InlineData(512, 16, 3, false)]
    [InlineData(4096, 1, 3, false)]
    [InlineData(4096, 64, 3, false)]
    [InlineData(2 * 1024 * 1024, 8, 3, false)]
    [InlineData(65536, 16, 2, false)]
    [InlineData(32768, 16, 3, true)]
    public async Task VireoImagesPassQemuCheckAndCompare(int clusterSize, int refcountBits, int version, bool extendedL2)
    {
        using var d = new TempDir();
        string img = d.File("v.qcow2");
        string raw = d.File("v.raw");
        long size = 8L << 20;
        var model = new byte[size];
        using (var q = DiskImage.Create(img, new ImageCreateOptions { Size = size, ClusterSize = clusterSize, RefcountBits = refcountBits, Version = version, ExtendedL2 = extendedL2 }))
        {
            var rnd = new Random(clusterSize + refcountBits);
            for (int i = 0; i < 60; i++)
            {
                long off = rnd.NextInt64(size - 1);
                int len = (int)Math.Min(size - off, rnd.Next(1, 300_000));
                if (rnd.Next(4) == 0)
                {
                    await q.WriteZeroesAsync(off, len);
                    Array.Clear(model, (int)off, len);
                }
                else
                {
                    var buf = new byte[len];
                    rnd.NextBytes(buf);
                    await q.WriteAsync(off, buf);
                    buf.CopyTo(model, off);
                }
            }

            Assert.Equal(model, ImageBytes.ReadAll(q));
        }

        File.WriteAllBytes(raw, model);
        Qemu.AssertClean(img);
        Qemu.Img("compare", "-f", "qcow2", "-F", "raw", img, raw);
    }

    [Fact]
    public async Task ConvertBothWaysMatchesQemu()
    {
        using var d = new TempDir();
        string src = d.File("src.raw");
        var rnd = new Random(3);
        var data = new byte[5 << 20];
        for (int i = 0; i < data.Length; i += 65536)
        {
            switch (rnd.Next(3))
            {
                case 0: rnd.NextBytes(data.AsSpan(i, rnd.Next(1, 65536))); break;
                case 1: data.AsSpan(i, 65536).Fill((byte)'x'); break;
            }
        }

        File.WriteAllBytes(src, data);
        foreach (bool compress in new[] { false, true })
        {
            string q = d.File($"out{compress}.qcow2");
            await DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = q, DestinationFormat = ImageFormat.Qcow2, Compress = compress });
            Qemu.AssertClean(q);
            Qemu.Img("compare", "-f", "qcow2", "-F", "raw", q, src);
            string back = d.File($"back{compress}.raw");
            await DiskImage.ConvertAsync(new ConvertOptions { Sources = [q], Destination = back, DestinationFormat = ImageFormat.Raw });
            Assert.Equal(data, File.ReadAllBytes(back));
        }
    }

    [Fact]
    public void ChainsBuiltByVireoReadThrough()
    {
        using var d = new TempDir();
        string b = d.File("b.raw");
        File.WriteAllBytes(b, Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 7)).ToArray());
        string m = d.File("m.qcow2");
        string t = d.File("t.qcow2");
        using (var mi = DiskImage.Create(m, new ImageCreateOptions { BackingFile = "b.raw", BackingFormat = ImageFormat.Raw }))
        {
            mi.WriteAsync(1000, new byte[] { 1, 2, 3 }).AsTask().Wait();
            mi.WriteZeroesAsync(65536, 65536).AsTask().Wait();
        }

        using (var ti = DiskImage.Create(t, new ImageCreateOptions { BackingFile = "m.qcow2", BackingFormat = ImageFormat.Qcow2, ClusterSize = 4096 }))
        {
            ti.WriteAsync(70000, new byte[] { 9, 9 }).AsTask().Wait();
        }

        Qemu.AssertClean(m);
        Qemu.AssertClean(t);
        string flat = d.File("flat.raw");
        Qemu.Img("convert", "-O", "raw", t, flat);
        Assert.Equal(File.ReadAllBytes(flat), ImageBytes.ReadAll(t));
    }
}
