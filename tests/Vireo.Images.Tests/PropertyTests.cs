namespace Vireo.Images.Tests;

/// <summary>
/// Seeded random operations against an in-memory model: writes, zero writes, discards, resizes (and reopen),
/// internal snapshots created, applied and deleted,
/// checked by reading back through the engine and, at the end of each run, by qemu-img check and compare.
/// A failing seed is printed so it can be replayed.
/// </summary>
public sealed class PropertyTests
{
    public static TheoryData<int, int, int, bool, bool> Seeds => new()
    {
        { 1, 65536, 16, false, false },
        { 2, 4096, 2, false, false },
        { 3, 512, 64, false, false },
        { 4, 16384, 16, true, false },
        { 5, 65536, 8, false, false },
        { 6, 8192, 32, false, false },
        { 7, 4096, 16, true, true },
        { 8, 65536, 16, false, true },
    };

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomOperationsMatchTheModel(int seed, int clusterSize, int refcountBits, bool withBacking, bool encrypted)
    {
        using var d = new TempDir();
        // One LUKS layout: every data write is encrypted for its host cluster, copy-on-write included.
        var key = encrypted ? new ImageOpenOptions { Password = "pw"u8.ToArray() } : null;
        var rnd = new Random(seed);
        string path = d.File("p.qcow2");
        long size = 6L << 20;
        byte[] model = new byte[size];
        var opts = new ImageCreateOptions { Size = size, ClusterSize = clusterSize, RefcountBits = refcountBits, ExtendedL2 = clusterSize >= 16384 && seed % 2 == 0, Encrypted = encrypted, Password = key?.Password, LuksIterTimeMs = 10 };
        if (withBacking)
        {
            string b = d.File("b.raw");
            var bd = new byte[size];
            rnd.NextBytes(bd);
            File.WriteAllBytes(b, bd);
            bd.CopyTo(model, 0);
            opts = opts with { BackingFile = "b.raw", BackingFormat = ImageFormat.Raw };
        }

        var img = DiskImage.Create(path, opts);
        var snaps = new Dictionary<string, byte[]>();
        try
        {
            for (int step = 0; step < 150; step++)
            {
                int op = rnd.Next(12);
                long off = rnd.NextInt64(Math.Max(1, model.Length));
                int len = (int)Math.Min(model.Length - off, rnd.Next(4) == 0 ? rnd.Next(1, 600_000) : rnd.Next(1, 9000));
                if (len <= 0)
                {
                    continue;
                }

                switch (op)
                {
                    case <= 4:
                        var buf = new byte[len];
                        rnd.NextBytes(buf);
                        await img.WriteAsync(off, buf);
                        buf.CopyTo(model, off);
                        break;
                    case <= 6:
                        await img.WriteZeroesAsync(off, len);
                        Array.Clear(model, (int)off, len);
                        break;
                    case 7:
                        // Read back a random range.
                        var got = new byte[len];
                        await img.ReadAsync(off, got);
                        Assert.True(model.AsSpan((int)off, len).SequenceEqual(got), $"seed {seed} step {step}: read at {off}+{len} differs");
                        break;
                    case 10 when refcountBits > 1:
                        await img.DisposeAsync();
                        string name = $"s{step}";
                        try
                        {
                            DiskImage.Snapshot(path, SnapshotAction.Create, name);
                            snaps[name] = (byte[])model.Clone();
                        }
                        catch (ImageException e) when (e.Message.Contains("cannot count another reference", StringComparison.Ordinal))
                        {
                            // Narrow refcounts run out of room: refused up front, image untouched.
                            AssertClean(path, encrypted);
                        }

                        img = DiskImage.Open(path, options: key);
                        break;
                    case 11 when snaps.Count > 0:
                        await img.DisposeAsync();
                        string pick = snaps.Keys.ElementAt(rnd.Next(snaps.Count));
                        if (rnd.Next(2) == 0)
                        {
                            try
                            {
                                DiskImage.Snapshot(path, SnapshotAction.Apply, pick);
                                model = (byte[])snaps[pick].Clone();
                            }
                            catch (ImageException e) when (e.Message.Contains("cannot count another reference", StringComparison.Ordinal))
                            {
                                // Applying holds both trees for a moment; narrow refcounts refuse it up front.
                                AssertClean(path, encrypted);
                            }
                        }
                        else
                        {
                            DiskImage.Snapshot(path, SnapshotAction.Delete, pick);
                            snaps.Remove(pick);
                        }

                        img = DiskImage.Open(path, options: key);
                        Assert.True(model.AsSpan().SequenceEqual(ImageBytes.ReadAll(img)), $"seed {seed} step {step}: contents differ after snapshot {pick}");
                        break;
                    case 8 when !withBacking && snaps.Count == 0:
                        // Resize (grow or shrink) through the facade, then reopen.
                        await img.DisposeAsync();
                        long newSize = Math.Max(512, (model.Length + rnd.NextInt64(-(2L << 20), 2L << 20)) & ~511L);
                        DiskImage.Resize(path, newSize, shrink: true, options: key);
                        var resized = new byte[newSize];
                        Array.Copy(model, resized, Math.Min(model.Length, newSize));
                        model = resized;
                        img = DiskImage.Open(path, options: key);
                        Assert.Equal(newSize, img.VirtualSize);
                        break;
                    default:
                        // Reopen: everything must come back from disk.
                        await img.DisposeAsync();
                        img = DiskImage.Open(path, options: key);
                        break;
                }
            }

            Assert.True(model.AsSpan().SequenceEqual(ImageBytes.ReadAll(img)), $"seed {seed}: final contents differ");
        }
        finally
        {
            await img.DisposeAsync();
        }

        AssertClean(path, encrypted);
        string raw = d.File("model.raw");
        File.WriteAllBytes(raw, model);
        if (encrypted)
        {
            LuksQemu.Compare(LuksQemu.Opts(path), raw);
        }
        else
        {
            Qemu.Img("compare", "-f", "qcow2", "-F", "raw", path, raw);
        }
    }

    private static void AssertClean(string path, bool encrypted)
    {
        if (encrypted)
        {
            LuksQemu.AssertClean(path);
        }
        else
        {
            Qemu.AssertClean(path);
        }
    }
}
