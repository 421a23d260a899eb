namespace Vireo.Images.Tests;

/// <summary>
/// LUKS-encrypted qcow2 written by Vireo: created, written (in place, copy-on-write over plain and
/// encrypted backings, zeroes), converted into and snapshotted, each checked by the real qemu-img and
/// qemu-io with the key; and qemu-io's writes read back by Vireo.
/// </summary>
public sealed class LuksWriteTests
{
    private static readonly byte[] Pw = "pw"u8.ToArray();

    private static ImageCreateOptions Encrypted(long size, int clusterSize = 65536) =>
        new() { Size = size, ClusterSize = clusterSize, Encrypted = true, Password = Pw, LuksIterTimeMs = 10 };

    private static ImageOpenOptions Key => new() { Password = Pw };

    [Theory]
    [InlineData(65536, 3, "aes-256", "sha256", false)]
    [InlineData(4096, 3, "aes-128", "sha1", false)]
    [InlineData(512, 2, "aes-192", "sha512", false)]
    [InlineData(32768, 3, "aes-256", "sha384", true)]
    public async Task WritesEncryptedQcow2ThatQemuReadsAndReadsWhatQemuWrites(int clusterSize, int version, string cipher, string hash, bool extendedL2)
    {
        using var d = new TempDir();
        string img = d.File("e.qcow2");
        long size = (4L << 20) + 1536;
        var model = new byte[size];
        var rnd = new Random(clusterSize);
        using (var i = DiskImage.Create(img, Encrypted(size, clusterSize) with { Version = version, LuksCipher = cipher, LuksHash = hash, ExtendedL2 = extendedL2 }))
        {
            // Fresh: qemu sees a clean, encrypted image that reads as zeroes.
            LuksQemu.AssertClean(img);
            Assert.Contains("encrypted: yes", Qemu.Img("info", img), StringComparison.Ordinal);
            LuksQemu.Io(LuksQemu.Opts(img), $"read -P 0 0 {size}");

            async Task Write(long off, int len)
            {
                var buf = new byte[len];
                rnd.NextBytes(buf);
                await i.WriteAsync(off, buf);
                buf.CopyTo(model, off);
            }

            await Write(0, 3 * clusterSize);                  // whole clusters
            await Write(clusterSize + 100, 1000);              // in place, unaligned: sector read-modify-write
            await Write((1L << 20) + 700, 70_000);             // partial clusters: copy-on-write of zeroes
            await Write((2L << 20) + 511, 2);                  // one byte either side of a sector boundary
            await Write(size - 700, 700);                      // the partial last cluster
            await i.WriteZeroesAsync(0, clusterSize);         // a zero cluster
            Array.Clear(model, 0, clusterSize);
            await i.WriteZeroesAsync((1L << 20) + 1000, 5000); // zero bytes inside data
            Array.Clear(model, (1 << 20) + 1000, 5000);
            await Write(3L << 20, 4 * clusterSize);
            await Write((3L << 20) + 64, 256);                // rewrites in place
            Assert.Equal(model, ImageBytes.ReadAll(i));
        }

        LuksQemu.AssertClean(img);
        string raw = d.File("model.raw");
        File.WriteAllBytes(raw, model);
        LuksQemu.Compare(LuksQemu.Opts(img), raw);
        using (var ro = DiskImage.Open(img, readOnly: true, options: Key))
        {
            Assert.Equal(model, ImageBytes.ReadAll(ro));
        }

        // qemu-io writes into the Vireo image; Vireo reads exactly what qemu-img converts out.
        LuksQemu.Io(LuksQemu.Opts(img), "write -P 0x3c 200k 300k", "write -z 3M 64k", "write -P 0x4d 4095k 1k");
        string qraw = d.File("q.raw");
        Qemu.Img("convert", "--object", LuksQemu.Secret, "--image-opts", LuksQemu.Opts(img), "-O", "raw", qraw);
        using (var ro = DiskImage.Open(img, readOnly: true, options: Key))
        {
            Assert.Equal(File.ReadAllBytes(qraw), ImageBytes.ReadAll(ro));
        }

        // ... and Vireo goes on writing into what qemu wrote.
        using (var rw = DiskImage.Open(img, options: Key))
        {
            await rw.WriteAsync(250 * 1024, new byte[] { 1, 2, 3 });
        }

        var expect = File.ReadAllBytes(qraw);
        expect[250 * 1024] = 1;
        expect[(250 * 1024) + 1] = 2;
        expect[(250 * 1024) + 2] = 3;
        File.WriteAllBytes(qraw, expect);
        LuksQemu.Compare(LuksQemu.Opts(img), qraw);
        LuksQemu.AssertClean(img);
    }

    [Fact]
    public async Task EncryptedOverlaysCopyOnWriteFromPlainAndEncryptedBackings()
    {
        using var d = new TempDir();
        var rnd = new Random(7);
        var baseData = new byte[2 << 20];
        rnd.NextBytes(baseData);
        File.WriteAllBytes(d.File("b.raw"), baseData);

        // Over a plain raw backing: partial writes merge backing data into the new encrypted cluster.
        string ov = d.File("ov.qcow2");
        var model = (byte[])baseData.Clone();
        using (var i = DiskImage.Create(ov, Encrypted(0) with { BackingFile = "b.raw", BackingFormat = ImageFormat.Raw }))
        {
            Assert.Equal(baseData.Length, i.VirtualSize);
            var w = new byte[3000];
            rnd.NextBytes(w);
            await i.WriteAsync(70_000, w);
            w.CopyTo(model, 70_000);
            await i.WriteZeroesAsync(1L << 20, 65536);
            Array.Clear(model, 1 << 20, 65536);
        }

        LuksQemu.AssertClean(ov);
        File.WriteAllBytes(d.File("m1.raw"), model);
        LuksQemu.Compare(LuksQemu.Opts(ov), d.File("m1.raw"));

        // Over an encrypted qcow2 with another key (qemu's backing.encrypt.key-secret).
        string eb = d.File("eb.qcow2");
        LuksQemu.Create("-f", "qcow2", "--object", LuksQemu.Secret1, "-o", "encrypt.format=luks,encrypt.key-secret=sec1,encrypt.iter-time=10", eb, "2M");
        LuksQemu.Io($"driver=qcow2,file.filename={eb},encrypt.key-secret=sec1", "write -P 0x61 0 2M");
        string ov2 = d.File("ov2.qcow2");
        DiskImage.CreateFile(ov2, Encrypted(0) with { BackingFile = "eb.qcow2", BackingFormat = ImageFormat.Qcow2 });
        var m2 = new byte[2 << 20];
        m2.AsSpan().Fill(0x61);
        using (var i = DiskImage.Open(ov2, options: new ImageOpenOptions { Password = Pw, BackingPassword = "other"u8.ToArray() }))
        {
            await i.WriteAsync(100_000, new byte[] { 9, 9, 9 });
            m2.AsSpan(100_000, 3).Fill(9);
            Assert.Equal(m2, ImageBytes.ReadAll(i));
        }

        // The overlay's own key does not open the backing: a clear error, not garbage.
        var e = Assert.Throws<ImageException>(() => DiskImage.Open(ov2, readOnly: true, options: Key));
        Assert.Equal($"invalid password for '{eb}'", e.Message);

        LuksQemu.AssertClean(ov2, ",backing.encrypt.key-secret=sec1");
        File.WriteAllBytes(d.File("m2.raw"), m2);
        LuksQemu.Compare(LuksQemu.Opts(ov2, ",backing.encrypt.key-secret=sec1"), d.File("m2.raw"));
    }

    [Fact]
    public async Task ConvertIntoEncryptedQcow2AndExistingLuksTargets()
    {
        using var d = new TempDir();
        string src = d.File("src.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", src, "6M");
        Qemu.Io(src, "qcow2", "write -P 0x11 0 1M", "write -z 1M 1M", "write -c -P 0x22 2M 128k", "write -P 0x33 3M 100k", "write -P 0 4M 64k");

        string dst = d.File("dst.qcow2");
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = dst, DestinationFormat = ImageFormat.Qcow2, CreateOptions = Encrypted(0) });
        LuksQemu.AssertClean(dst);
        LuksQemu.Compare(LuksQemu.Opts(dst), src, "qcow2");

        // Preallocated encrypted clusters hold plaintext zeroes (noise to the guest, as in qemu): convert writes zeroes.
        string pre = d.File("pre.qcow2");
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = pre, DestinationFormat = ImageFormat.Qcow2, CreateOptions = Encrypted(0) with { Preallocation = Preallocation.Metadata } });
        LuksQemu.AssertClean(pre);
        LuksQemu.Compare(LuksQemu.Opts(pre), src, "qcow2");

        // -c into an encrypted image: refused before anything is created, as qemu-img does.
        string c = d.File("c.qcow2");
        var e = await Assert.ThrowsAsync<ImageException>(() => DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = c, DestinationFormat = ImageFormat.Qcow2, Compress = true, CreateOptions = Encrypted(0) }));
        Assert.Equal("Compression and encryption not supported at the same time", e.Message);
        Assert.False(File.Exists(c));

        // -n into existing encrypted targets: a qcow2 qemu-io filled, a raw luks made by qemu-img
        // (qemu-img create calibrates PBKDF2 for seconds whatever iter-time says: one is enough).
        string nq = d.File("n.qcow2");
        DiskImage.CreateFile(nq, Encrypted(6L << 20));
        LuksQemu.Io(LuksQemu.Opts(nq), "write -P 0x7f 0 6M");
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = nq, DestinationFormat = ImageFormat.Qcow2, NoCreate = true, DestinationPassword = Pw });
        LuksQemu.AssertClean(nq);
        LuksQemu.Compare(LuksQemu.Opts(nq), src, "qcow2");
        var e2 = await Assert.ThrowsAsync<ImageException>(() => DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = nq, DestinationFormat = ImageFormat.Qcow2, NoCreate = true, Compress = true, DestinationPassword = Pw }));
        Assert.Contains("Compression and encryption not supported", e2.Message, StringComparison.Ordinal);

        string nl = d.File("n.luks");
        LuksQemu.Create("-f", "luks", "--object", LuksQemu.Secret, "-o", "key-secret=sec0,iter-time=10", nl, "6M");
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = nl, DestinationFormat = ImageFormat.Luks, NoCreate = true, DestinationPassword = Pw });
        LuksQemu.Compare($"driver=luks,file.filename={nl},key-secret=sec0", src, "qcow2");

        // Without the key nothing is written.
        var e3 = await Assert.ThrowsAsync<ImageException>(() => DiskImage.ConvertAsync(new ConvertOptions { Sources = [src], Destination = nq, DestinationFormat = ImageFormat.Qcow2, NoCreate = true }));
        Assert.Contains("is encrypted: give its key", e3.Message, StringComparison.Ordinal);
        LuksQemu.Compare(LuksQemu.Opts(nq), src, "qcow2");
    }

    [Fact]
    public async Task SnapshotsResizeCheckAndRefusalsOnEncryptedQcow2()
    {
        using var d = new TempDir();
        string img = d.File("s.qcow2");
        var a = new byte[1 << 20];
        new Random(3).NextBytes(a);
        using (var i = DiskImage.Create(img, Encrypted(2L << 20, 4096)))
        {
            await i.WriteAsync(0, a);
        }

        // Snapshots only touch metadata: no key needed. Writes after one copy on write, encrypted anew.
        DiskImage.Snapshot(img, SnapshotAction.Create, "s1");
        using (var i = DiskImage.Open(img, options: Key))
        {
            await i.WriteAsync(1000, new byte[5000]);
            await i.WriteZeroesAsync(0, 1 << 20);
        }

        Assert.Contains("s1", Qemu.Img("snapshot", "-l", "--object", LuksQemu.Secret, "--image-opts", LuksQemu.Opts(img)), StringComparison.Ordinal);
        DiskImage.Snapshot(img, SnapshotAction.Apply, "s1");
        using (var i = DiskImage.Open(img, readOnly: true, options: Key))
        {
            Assert.Equal(a, ImageBytes.ReadAll(i).AsSpan(0, a.Length).ToArray());
        }

        DiskImage.Snapshot(img, SnapshotAction.Delete, "s1");
        LuksQemu.AssertClean(img);
        var check = DiskImage.Check(img);
        Assert.Equal((0, 0), (check.Leaks, check.Corruptions));

        // Growing needs no key; shrinking to a cluster edge neither; an unaligned shrink rewrites the tail (key needed).
        DiskImage.Resize(img, 3L << 20, shrink: false);
        DiskImage.Resize(img, 1L << 20, shrink: true);
        long odd = (1L << 20) - 1000;
        var e = Assert.Throws<ImageException>(() => DiskImage.Resize(img, odd, shrink: true));
        Assert.Contains("is encrypted: give its key", e.Message, StringComparison.Ordinal);
        Assert.Equal(1L << 20, DiskImage.Inspect(img).VirtualSize);
        DiskImage.Resize(img, odd, shrink: true, options: Key);
        DiskImage.Resize(img, 1L << 20, shrink: false);
        var expect = (byte[])a.Clone();
        int kept = (int)((odd + 511) & ~511L); // sizes round up to whole sectors, as in qemu
        Array.Clear(expect, kept, a.Length - kept);
        File.WriteAllBytes(d.File("r.raw"), expect);
        LuksQemu.AssertClean(img);
        LuksQemu.Compare(LuksQemu.Opts(img), d.File("r.raw"));

        // Without the key: metadata opens fine, data writes are refused before anything changes.
        using (var i = DiskImage.Open(img))
        {
            var w = await Assert.ThrowsAsync<ImageException>(() => i.WriteAsync(0, new byte[512]).AsTask());
            Assert.Contains("is encrypted: give its key", w.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ImageException>(() => i.WriteZeroesAsync(0, 4096).AsTask());
        }

        LuksQemu.Compare(LuksQemu.Opts(img), d.File("r.raw"));

        // qemu-img's own amend and check on the Vireo image.
        Qemu.Img("amend", "--object", LuksQemu.Secret, "-o", "lazy_refcounts=on", "--image-opts", LuksQemu.Opts(img));
        LuksQemu.AssertClean(img);
        DiskImage.Amend(img, new AmendOptions { LazyRefcounts = false });
        LuksQemu.AssertClean(img);
        LuksQemu.Compare(LuksQemu.Opts(img), d.File("r.raw"));
    }

    [Fact]
    public async Task CommitAndRebaseThroughEncryptedLayersTakeTheKey()
    {
        using var d = new TempDir();
        string b = d.File("b.qcow2");
        string t = d.File("t.qcow2");
        var model = new byte[2 << 20];
        new Random(11).NextBytes(model);
        using (var i = DiskImage.Create(b, Encrypted(model.Length)))
        {
            await i.WriteAsync(0, model);
        }

        using (var i = DiskImage.Create(t, Encrypted(0) with { BackingFile = "b.qcow2", BackingFormat = ImageFormat.Qcow2 }))
        {
            await i.WriteAsync(300_000, new byte[70_000]);
            await i.WriteZeroesAsync(1L << 20, 65536);
        }

        Array.Clear(model, 300_000, 70_000);
        Array.Clear(model, 1 << 20, 65536);
        File.WriteAllBytes(d.File("m.raw"), model);

        // Without the key: refused up front, nothing written anywhere.
        var e = await Assert.ThrowsAsync<ImageException>(() => DiskImage.CommitAsync(t, keep: true));
        Assert.Contains("is encrypted: give its key", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ImageException>(() => DiskImage.RebaseAsync(t, "", null, unsafeMode: false));
        Assert.Contains("is encrypted: give its key", e.Message, StringComparison.Ordinal);
        Assert.Equal("b.qcow2", DiskImage.Inspect(t).BackingFile);

        // Rebase onto nothing copies the base's data into the overlay, encrypted for its clusters.
        string t2 = d.File("t2.qcow2");
        File.Copy(t, t2);
        await DiskImage.RebaseAsync(t2, "", null, unsafeMode: false, options: Key);
        Assert.Null(DiskImage.Inspect(t2).BackingFile);
        LuksQemu.AssertClean(t2);
        LuksQemu.Compare(LuksQemu.Opts(t2), d.File("m.raw"));

        await DiskImage.CommitAsync(t, options: Key);
        LuksQemu.AssertClean(b);
        LuksQemu.Compare(LuksQemu.Opts(b), d.File("m.raw"));
        LuksQemu.Compare(LuksQemu.Opts(t, ",backing.encrypt.key-secret=sec0"), d.File("m.raw"));

        // dd reads through the key, and without it creates nothing.
        string o = d.File("dd.raw");
        await Assert.ThrowsAsync<ImageException>(() => DiskImage.DdAsync(b, null, o, ImageFormat.Raw, 65536, null, 0));
        Assert.False(File.Exists(o));
        await DiskImage.DdAsync(b, null, o, ImageFormat.Raw, 65536, null, 0, Key);
        Assert.Equal(model, File.ReadAllBytes(o));
    }

    [Fact]
    public void CreateRefusesWhatItCannotWrite()
    {
        using var d = new TempDir();
        string p = d.File("x.qcow2");
        Assert.Contains("encrypt.key-secret", Assert.Throws<ImageException>(() => DiskImage.Create(p, Encrypted(1 << 20) with { Password = null })).Message, StringComparison.Ordinal);
        Assert.Contains("cipher-alg 'twofish-256'", Assert.Throws<ImageException>(() => DiskImage.Create(p, Encrypted(1 << 20) with { LuksCipher = "twofish-256" })).Message, StringComparison.Ordinal);
        Assert.Contains("hash-alg 'md5'", Assert.Throws<ImageException>(() => DiskImage.Create(p, Encrypted(1 << 20) with { LuksHash = "md5" })).Message, StringComparison.Ordinal);
        Assert.False(File.Exists(p));
    }
}

/// <summary>qemu-img and qemu-io on encrypted images: the key goes in with --object and --image-opts.</summary>
internal static class LuksQemu
{
    public const string Secret = "secret,id=sec0,data=pw";
    public const string Secret1 = "secret,id=sec1,data=other";

    public static string Opts(string path, string extra = "") => $"driver=qcow2,file.filename={path},encrypt.key-secret=sec0{extra}";

    /// <summary>qemu-img check with the key (qemu opens nothing encrypted without it): no errors, no leaks.</summary>
    public static void AssertClean(string path, string extra = "")
    {
        var (exit, o, e) = Qemu.Run("qemu-img", "check", "--object", Secret, "--object", Secret1, "--image-opts", Opts(path, extra));
        Assert.True(exit == 0, $"qemu-img check {path} exit {exit}: {o}{e}");
    }

    public static (int Exit, string Out, string Err) Check(string path) =>
        Qemu.Run("qemu-img", "check", "--object", Secret, "--image-opts", Opts(path));

    /// <summary>qemu-img compare of an encrypted image (as --image-opts) with a plain file.</summary>
    public static void Compare(string imageOpts, string other, string otherFormat = "raw") =>
        Qemu.Img("compare", "--object", Secret, "--object", Secret1, "--image-opts", imageOpts, $"driver={otherFormat},file.filename={other}");

    public static void Io(string imageOpts, params string[] commands)
    {
        var args = new List<string> { "--object", Secret, "--object", Secret1, "--image-opts", imageOpts };
        foreach (var c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        var (exit, o, e) = Qemu.Run("qemu-io", [.. args]);
        Assert.True(exit == 0 && !o.Contains("error", StringComparison.OrdinalIgnoreCase) && !o.Contains("fail", StringComparison.OrdinalIgnoreCase), $"qemu-io failed: {o}{e}");
    }

    /// <summary>qemu-img create, retried when its PBKDF2 calibration gives up on a busy machine ("accurate CPU usage").</summary>
    public static void Create(params string[] args)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (exit, o, e) = Qemu.Run("qemu-img", ["create", "-q", .. args]);
            if (exit == 0)
            {
                return;
            }

            Assert.True(attempt < 5 && (o + e).Contains("accurate CPU usage", StringComparison.Ordinal), $"qemu-img create failed ({exit}): {o}{e}");
        }
    }
}
