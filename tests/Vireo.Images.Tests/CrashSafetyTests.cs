namespace Vireo.Images.Tests;

[CollectionDefinition("write hook", DisableParallelization = true)]
public sealed class WriteHookCollection
{
}

/// <summary>
/// Crash safety: a killed writer leaves exactly the writes it completed (they are in the page cache) and
/// none after. The engine reports every write it issues; the test copies the image after randomly chosen
/// writes — each copy is the image a kill at that instant would leave — and qemu-img check must find at
/// most leaked clusters on every one, never corruption.
/// </summary>
[Collection("write hook")]
public sealed class CrashSafetyTests
{
    [Theory]
    [InlineData(11, 512, 16)]
    [InlineData(12, 4096, 1)]
    [InlineData(13, 65536, 64)]
    public async Task EveryCrashPointLeavesAtMostLeaks(int seed, int clusterSize, int refcountBits)
    {
        using var d = new TempDir();
        string path = d.File("w.qcow2");
        string real = Path.GetFullPath(path);
        var rnd = new Random(seed);
        DiskImage.Create(path, new ImageCreateOptions { Size = 1 << 20, ClusterSize = clusterSize, RefcountBits = refcountBits }).Dispose();
        int writes = 0;
        var snapshots = new List<string>();
        var pick = new Random(seed * 31);
        FileIo.AfterWrite = h =>
        {
            if (File.ResolveLinkTarget($"/proc/self/fd/{h.DangerousGetHandle()}", false)?.FullName != real)
            {
                return;
            }

            writes++;
            if (pick.Next(6) == 0 && snapshots.Count < 40)
            {
                string copy = d.File($"crash-{writes}.qcow2");
                File.Copy(path, copy);
                snapshots.Add(copy);
            }
        };
        try
        {
            long size = 1 << 20;
            for (int round = 0; round < 6; round++)
            {
                using (var img = DiskImage.Open(path))
                {
                    for (int i = 0; i < 25; i++)
                    {
                        long off = rnd.NextInt64(size - 1);
                        int len = (int)Math.Min(size - off, rnd.Next(1, 200_000));
                        if (rnd.Next(3) == 0)
                        {
                            await img.WriteZeroesAsync(off, len);
                        }
                        else
                        {
                            var buf = new byte[len];
                            rnd.NextBytes(buf);
                            await img.WriteAsync(off, buf);
                        }
                    }
                }

                // Growing moves the L1 table (and, with small clusters, the refcount table) while we watch.
                size *= 2;
                DiskImage.Resize(path, size, shrink: false);
            }
        }
        finally
        {
            FileIo.AfterWrite = null;
        }

        Assert.True(snapshots.Count > 5, $"only {snapshots.Count} crash points");
        Qemu.AssertClean(path);
        foreach (var s in snapshots)
        {
            var (exit, o, e) = Qemu.Run("qemu-img", "check", s);
            Assert.True(exit is 0 or 3, $"{Path.GetFileName(s)}: qemu-img check exit {exit}\n{o}{e}");
        }
    }
}
