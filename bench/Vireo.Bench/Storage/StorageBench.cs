using System.Diagnostics;
using System.Globalization;
using Vireo.Engine.State;
using Vireo.Engine.Storage;
using Vireo.Images;

namespace Vireo.Bench.Storage;

/// <summary>
/// Storage pool figures: thin clone (overlay) time against virtual size, and full clone and vol-upload
/// throughput against <c>qemu-img convert</c> of the same image in the same run.
/// Usage: <c>Vireo.Bench storage [DATA_MIB] [DIR]</c>.
/// </summary>
internal static class StorageBench
{
    private const long MiB = 1 << 20;

    public static async Task<int> RunAsync(string[] args)
    {
        long dataMiB = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 512;
        string baseDir = args.Length > 1 ? args[1] : "/var/tmp";
        string dir = Path.Combine(baseDir, "vireo-storage-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            var paths = new VireoPaths(Path.Combine(dir, "root"), Path.Combine(dir, "root", "run"));
            var m = new StoragePoolManager(paths);
            string target = Path.Combine(dir, "pool");
            m.Define($"<pool type='dir'><name>bench</name><target><path>{target}</path></target></pool>");
            m.Start("bench", PoolBuildMode.Default);

            Console.WriteLine("thin clone (qcow2 overlay on a base volume) time vs virtual size:");
            foreach (long gib in new long[] { 1, 10, 100, 1024 })
            {
                m.CreateVolume("bench", new VolumeCreateRequest { Name = $"base{gib}.qcow2", Capacity = gib << 30, Format = "qcow2" });
                var sw = Stopwatch.StartNew();
                m.CreateVolume("bench", new VolumeCreateRequest { Name = $"thin{gib}.qcow2", Capacity = gib << 30, Format = "qcow2", BackingVolume = $"base{gib}.qcow2" });
                Console.WriteLine($"  {gib,5} GiB: {sw.Elapsed.TotalMilliseconds,8:F2} ms");
            }

            Console.WriteLine($"full clone and upload of {dataMiB} MiB of data (best of 2 runs each):");
            var src = m.CreateVolume("bench", new VolumeCreateRequest { Name = "data.qcow2", Capacity = dataMiB * 2 * MiB, Format = "qcow2" });
            await FillAsync(src.Path, dataMiB * MiB).ConfigureAwait(false);

            double vireoClone = await BestAsync(async i =>
            {
                // Only the clone is timed, as only qemu-img's convert is; the directory goes at the end.
                await m.CloneVolumeAsync(m.FindVolume("data.qcow2", "bench"), $"clone{i}.qcow2").ConfigureAwait(false);
            }).ConfigureAwait(false);
            double qemuClone = await BestAsync(i => QemuImg("convert", "-f", "qcow2", "-O", "qcow2", src.Path, Path.Combine(dir, $"q{i}.qcow2"))).ConfigureAwait(false);
            Report("vol-clone qcow2", dataMiB, vireoClone, "qemu-img convert -O qcow2", qemuClone);

            string rawFile = Path.Combine(dir, "upload.raw");
            await QemuImg("convert", "-f", "qcow2", "-O", "raw", src.Path, rawFile).ConfigureAwait(false);
            var up = m.CreateVolume("bench", new VolumeCreateRequest { Name = "up.img", Capacity = dataMiB * 2 * MiB, Allocation = 0 });
            double vireoUpload = await BestAsync(async i =>
            {
                await using var input = new FileStream(rawFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
                await m.UploadVolumeAsync(up, input, sparse: true).ConfigureAwait(false);
            }).ConfigureAwait(false);
            double qemuUpload = await BestAsync(i => QemuImg("convert", "-f", "raw", "-O", "raw", rawFile, Path.Combine(dir, $"u{i}.raw"))).ConfigureAwait(false);
            Report("vol-upload raw", dataMiB, vireoUpload, "qemu-img convert -O raw", qemuUpload);
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Half of the data incompressible, half zeroes, in 1 MiB stripes: what a used disk looks like to a copier.</summary>
    private static async Task FillAsync(string path, long bytes)
    {
        await using var img = DiskImage.Open(path);
        var buf = new byte[MiB];
        var rnd = new Random(42);
        for (long off = 0; off < bytes * 2; off += 2 * MiB)
        {
            rnd.NextBytes(buf);
            await img.WriteAsync(off, buf).ConfigureAwait(false);
        }

        await img.FlushAsync().ConfigureAwait(false);
    }

    private static async Task<double> BestAsync(Func<int, Task> run)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            var sw = Stopwatch.StartNew();
            await run(i).ConfigureAwait(false);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        return best;
    }

    private static void Report(string ours, long mib, double oursS, string theirs, double theirsS)
    {
        Console.WriteLine($"  {ours,-28} {oursS,7:F3} s  {mib / oursS,8:F1} MiB/s");
        Console.WriteLine($"  {theirs,-28} {theirsS,7:F3} s  {mib / theirsS,8:F1} MiB/s");
        Console.WriteLine($"  ratio (qemu-img time / vireo time): {theirsS / oursS:F2}x");
    }

    private static async Task QemuImg(params string[] args)
    {
        var psi = new ProcessStartInfo("qemu-img") { RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"qemu-img {string.Join(' ', args)}: {err}");
        }
    }
}
