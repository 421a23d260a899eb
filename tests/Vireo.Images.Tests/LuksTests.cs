using System.Text;

namespace Vireo.Images.Tests;

/// <summary>LUKS1 images made by qemu-img and written by qemu-io, read back byte for byte.</summary>
public sealed class LuksTests
{
    private const string Secret = "secret,id=sec0,data=pw";

    private static readonly string[] Pattern =
    [
        "write -P 0x11 0 100k", "write -P 0x22 1000k 3k", "write -z 2M 128k", "write -P 0x33 3M 512", "write -P 0x44 8384512 4096",
    ];

    [Fact]
    public void ReadsQemuLuksQcow2ByteForByte()
    {
        using var d = new TempDir();
        string img = d.File("x.qcow2");
        QemuCreate("-q", "-f", "qcow2", "--object", Secret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", img, "8M");
        QemuIo($"driver=qcow2,file.filename={img},encrypt.key-secret=sec0");
        string raw = d.File("x.raw");
        Qemu.Img("convert", "--object", Secret, "--image-opts", $"driver=qcow2,file.filename={img},encrypt.key-secret=sec0", "-O", "raw", raw);

        using var i = DiskImage.Open(img, readOnly: true, options: new ImageOpenOptions { Password = Encoding.UTF8.GetBytes("pw") });
        var got = ImageBytes.ReadAll(i);
        Assert.Equal(File.ReadAllBytes(raw), got);
        Assert.Equal(0x22, got[1000 * 1024]);

        // Unaligned reads decrypt the sectors around them.
        var part = new byte[1000];
        i.ReadAsync((1000 * 1024) - 300, part).AsTask().GetAwaiter().GetResult();
        Assert.Equal(got.AsSpan((1000 * 1024) - 300, 1000).ToArray(), part);

        Assert.True(DiskImage.Inspect(img).Encrypted);

        // The LUKS header area is referenced by the extension only: not a leak.
        var check = DiskImage.Check(img);
        Assert.Equal(0, check.Leaks);
        Assert.Equal(0, check.Corruptions);
        i.Dispose();

        // Vireo writes into qemu's encrypted image (in place, copy-on-write, zeroes); qemu reads it back.
        using (var w = DiskImage.Open(img, options: new ImageOpenOptions { Password = Encoding.UTF8.GetBytes("pw") }))
        {
            var bytes = new byte[70_000];
            new Random(2).NextBytes(bytes);
            w.WriteAsync(50_000, bytes).AsTask().GetAwaiter().GetResult();
            bytes.CopyTo(got, 50_000);
            w.WriteAsync(5L << 20, bytes.AsMemory(0, 3000)).AsTask().GetAwaiter().GetResult();
            bytes.AsSpan(0, 3000).CopyTo(got.AsSpan(5 << 20));
            w.WriteZeroesAsync(1000 * 1024, 4096).AsTask().GetAwaiter().GetResult();
            got.AsSpan(1000 * 1024, 4096).Clear();
        }

        File.WriteAllBytes(raw, got);
        Qemu.Img("compare", "--object", Secret, "--image-opts", $"driver=qcow2,file.filename={img},encrypt.key-secret=sec0", $"driver=raw,file.filename={raw}");
        Qemu.Img("check", "--object", Secret, "--image-opts", $"driver=qcow2,file.filename={img},encrypt.key-secret=sec0");
    }

    [Fact]
    public void WrongOrMissingPasswordIsAClearError()
    {
        using var d = new TempDir();
        string img = d.File("x.qcow2");
        QemuCreate("-q", "-f", "qcow2", "--object", Secret, "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", img, "1M");
        QemuIo($"driver=qcow2,file.filename={img},encrypt.key-secret=sec0", "write -P 0x5a 0 64k");

        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img, readOnly: true, options: new ImageOpenOptions { Password = "nope"u8.ToArray() }));
        Assert.Equal($"invalid password for '{img}'", e.Message);

        using var i = DiskImage.Open(img, readOnly: true);
        var e2 = Assert.Throws<ImageException>(() => ImageBytes.ReadAll(i));
        Assert.Contains("is encrypted", e2.Message, StringComparison.Ordinal);

        // Opening for writing needs no key (snapshots, resize and check touch only metadata); data writes do.
        using var rw = DiskImage.Open(img);
        var e3 = Assert.Throws<ImageException>(() => rw.WriteAsync(0, new byte[512]).AsTask().GetAwaiter().GetResult());
        Assert.Contains("is encrypted", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadsQemuRawLuksByteForByte()
    {
        using var d = new TempDir();
        string img = d.File("x.luks");
        QemuCreate("-q", "-f", "luks", "--object", Secret, "-o", "key-secret=sec0,iter-time=10", img, "8M");
        QemuIo($"driver=luks,file.filename={img},key-secret=sec0");
        string raw = d.File("x.raw");
        Qemu.Img("convert", "--object", Secret, "--image-opts", $"driver=luks,file.filename={img},key-secret=sec0", "-O", "raw", raw);

        Assert.Equal(ImageFormat.Luks, DiskImage.Probe(img));
        var info = DiskImage.Inspect(img);
        Assert.Equal(8L << 20, info.VirtualSize);
        Assert.True(info.Encrypted);
        using var i = DiskImage.Open(img, readOnly: true, options: new ImageOpenOptions { Password = Encoding.UTF8.GetBytes("pw") });
        var got = ImageBytes.ReadAll(i);
        Assert.Equal(File.ReadAllBytes(raw), got);
        var part = new byte[777];
        i.ReadAsync((3 << 20) - 100, part).AsTask().GetAwaiter().GetResult();
        Assert.Equal(got.AsSpan((3 << 20) - 100, 777).ToArray(), part);

        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img, readOnly: true, options: new ImageOpenOptions { Password = "nope"u8.ToArray() }));
        Assert.Equal($"invalid password for '{img}'", e.Message);
    }

    [Fact]
    public void CreatesRawLuksThatQemuReads()
    {
        using var d = new TempDir();
        string img = d.File("v.luks");
        var data = new byte[4 << 20];
        new Random(5).NextBytes(data.AsSpan(0, 1 << 20));
        data.AsSpan(3 << 20, 5000).Fill(0x7e);
        using (var i = DiskImage.Create(img, new ImageCreateOptions { Format = ImageFormat.Luks, Size = data.Length, Password = "pw"u8.ToArray(), LuksIterTimeMs = 10 }))
        {
            i.WriteZeroesAsync(0, data.Length).AsTask().GetAwaiter().GetResult();
            i.WriteAsync(0, data.AsMemory(0, 1 << 20)).AsTask().GetAwaiter().GetResult();
            // Unaligned: read-modify-write of the sectors around it.
            i.WriteAsync(3 << 20, data.AsMemory(3 << 20, 5000)).AsTask().GetAwaiter().GetResult();
            i.WriteAsync((2 << 20) + 100, data.AsMemory((2 << 20) + 100, 33)).AsTask().GetAwaiter().GetResult();
        }

        string raw = d.File("v.raw");
        File.WriteAllBytes(raw, data);
        Qemu.Img("compare", "--object", Secret, "--image-opts", $"driver=luks,file.filename={img},key-secret=sec0", $"driver=raw,file.filename={raw}");
        Assert.Contains("luks", Qemu.Img("info", img), StringComparison.Ordinal);
        Assert.Equal(data, ImageBytes.ReadAll(DiskImage.Open(img, readOnly: true, options: new ImageOpenOptions { Password = "pw"u8.ToArray() })));

        // convert -O luks writes zeroes too (a new payload decrypts to noise).
        string conv = d.File("c.luks");
        DiskImage.ConvertAsync(new ConvertOptions
        {
            Sources = [raw],
            Destination = conv,
            DestinationFormat = ImageFormat.Luks,
            CreateOptions = new ImageCreateOptions { Format = ImageFormat.Luks, Password = "pw"u8.ToArray(), LuksIterTimeMs = 10 },
        }).GetAwaiter().GetResult();
        Qemu.Img("compare", "--object", Secret, "--image-opts", $"driver=luks,file.filename={conv},key-secret=sec0", $"driver=raw,file.filename={raw}");
    }

    /// <summary>Patched LUKS headers: a clear error naming the problem, never a crash or a huge allocation.</summary>
    [Theory]
    [InlineData(208 + 44, 0xffffffffu, "stripes")]
    [InlineData(208 + 40, 0x7fffffffu, "past the end")]
    [InlineData(104, 0x7fffffffu, "payload offset")]
    [InlineData(6, 2u, "LUKS version 2")]
    [InlineData(8, 0x74776f66u, "cipher")]
    public void HostileLuksHeadersAreClearErrors(int offset, uint value, string expected)
    {
        using var d = new TempDir();
        string img = d.File("x.luks");
        QemuCreate("-q", "-f", "luks", "--object", Secret, "-o", "key-secret=sec0,iter-time=10", img, "1M");
        var bytes = File.ReadAllBytes(img);
        if (offset == 6)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(offset), (ushort)value);
        }
        else
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(offset), value);
        }

        File.WriteAllBytes(img, bytes);
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(img, ImageFormat.Luks, readOnly: true, options: new ImageOpenOptions { Password = "pw"u8.ToArray() }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// qemu's PBKDF2 calibration measures its own CPU time and sometimes gives up on a busy machine
    /// ("Unable to get accurate CPU usage"): retry that, nothing else.
    /// </summary>
    private static void QemuCreate(params string[] args)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (exit, o, e) = Qemu.Run("qemu-img", ["create", .. args]);
            if (exit == 0)
            {
                return;
            }

            Assert.True(attempt < 5 && (o + e).Contains("accurate CPU usage", StringComparison.Ordinal), $"qemu-img create failed ({exit}): {o}{e}");
        }
    }

    private static void QemuIo(string imageOpts, params string[] commands)
    {
        var args = new List<string> { "--object", Secret, "--image-opts", imageOpts };
        foreach (var c in commands.Length == 0 ? Pattern : commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        var (exit, o, e) = Qemu.Run("qemu-io", [.. args]);
        Assert.True(exit == 0 && !o.Contains("error", StringComparison.OrdinalIgnoreCase) && !o.Contains("failed", StringComparison.OrdinalIgnoreCase), $"qemu-io failed: {o}{e}");
    }
}
