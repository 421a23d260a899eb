using System.Diagnostics;

namespace Vireo.Images.Tests;

/// <summary>
/// Crash safety with real kills: a child process writes at random (allocations, deallocations, growth)
/// and is SIGKILLed after a random amount of work, several times on the same image; every time qemu-img
/// check must find at most leaked clusters, and the next writer must be able to go on.
/// </summary>
public sealed class ProcessKillTests
{
    [Theory]
    [InlineData(4096, 16, false, false)]
    [InlineData(65536, 8, false, false)]
    [InlineData(16384, 16, true, false)]
    [InlineData(4096, 16, false, true)]
    public async Task KilledWritersLeaveAtMostLeaks(int clusterSize, int refcountBits, bool encrypted, bool bitmaps)
    {
        using var d = new TempDir();
        string img = d.File("k.qcow2");
        DiskImage.Create(img, new ImageCreateOptions { Size = 16L << 20, ClusterSize = clusterSize, RefcountBits = refcountBits, Encrypted = encrypted, Password = encrypted ? "pw"u8.ToArray() : null, LuksIterTimeMs = 10 }).Dispose();
        if (bitmaps)
        {
            // Tracked on every write and resized on growth; a table of several clusters at 512-byte granularity.
            Qemu.Img("bitmap", "--add", img, "coarse");
            Qemu.Img("bitmap", "--add", "--granularity", "512", img, "fine");
        }
        var rnd = new Random(clusterSize);
        for (int round = 0; round < 6; round++)
        {
            int lines = rnd.Next(1, 40);
            using (var p = StartWriter(img, (clusterSize * 100) + round, encrypted))
            {
                try
                {
                    for (int i = 0; i < lines; i++)
                    {
                        var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2));
                        if (line is null)
                        {
                            Assert.Fail($"writer ended early: {await p.StandardError.ReadToEndAsync()}");
                        }
                    }
                }
                finally
                {
                    p.Kill();
                    await p.WaitForExitAsync();
                }
            }

            var (exit, o, e) = encrypted ? LuksQemu.Check(img) : Qemu.Run("qemu-img", "check", img);
            Assert.True(exit is 0 or 3, $"round {round}: qemu-img check exit {exit}\n{o}{e}");
        }

        // Leaks are all a kill leaves, and repairing them gives a clean image.
        if (encrypted)
        {
            Qemu.Img("check", "-q", "-r", "leaks", "--object", LuksQemu.Secret, "--image-opts", LuksQemu.Opts(img));
            LuksQemu.AssertClean(img);
        }
        else
        {
            Qemu.Img("check", "-q", "-r", "leaks", img);
            Qemu.AssertClean(img);
        }
    }

    private static Process StartWriter(string img, int seed, bool encrypted)
    {
        string dll = typeof(CrashWriter).Assembly.Location;
        string host = Environment.ProcessPath is { } pp && Path.GetFileNameWithoutExtension(pp) == "dotnet" ? pp : "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("crash-writer");
        psi.ArgumentList.Add(img);
        psi.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (encrypted)
        {
            psi.Environment[CrashWriter.KeyVariable] = "pw";
        }

        return Process.Start(psi)!;
    }
}
