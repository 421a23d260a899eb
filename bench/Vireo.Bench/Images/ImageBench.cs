using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Vireo.Images;

namespace Vireo.Bench.Images;

/// <summary>
/// Side by side with qemu-img, same inputs, one run, ratios printed (ratio = qemu-img time / Vireo time, so
/// above 1 means Vireo is faster). Data lives under /tmp and is deleted at the end. Vireo runs in-process
/// after a warm-up; every timed operation starts after a sync, so neither tool pays for the other's
/// writeback. Peak memory (max RSS) of both is measured in child processes at the end.
/// Options: --runs N (min of N, default 3), --no-memory (skip the memory table).
/// </summary>
internal static partial class ImageBench
{
    private const long Gib = 1L << 30;
    private const long Mib = 1L << 20;

    private static int s_runs = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "child-convert")
        {
            return await ChildConvertAsync(args).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "child-rusage")
        {
            return ChildRusage(args[1..]);
        }

        bool memory = true;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--runs" when i + 1 < args.Length:
                    s_runs = Math.Max(1, int.Parse(args[++i], CultureInfo.InvariantCulture));
                    break;
                case "--no-memory":
                    memory = false;
                    break;
                default:
                    Console.Error.WriteLine("usage: img [--runs N] [--no-memory]");
                    return 1;
            }
        }

        string dir = Directory.CreateTempSubdirectory("vireo-img-bench-").FullName;
        try
        {
            await RunAllAsync(dir).ConfigureAwait(false);
            if (memory)
            {
                await MemoryAsync(dir).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task RunAllAsync(string dir)
    {
        string P(string n) => Path.Combine(dir, n);
        Console.WriteLine($"Generating a 2 GiB raw image (1/3 random data, 1/3 written zeroes, 1/3 holes) in {dir} ...");
        MakeMixedRaw(P("src.raw"), 2 * Gib, seed: 1);
        Qemu("convert", "-O", "qcow2", P("src.raw"), P("ref.qcow2"));
        Console.WriteLine();
        Console.WriteLine($"{"operation",-38}{"qemu-img",12}{"vireo",12}{"ratio",9}");

        await Row("convert raw→qcow2 (2 GiB)", () => Qemu("convert", "-O", "qcow2", P("src.raw"), P("q1.qcow2")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("src.raw")], Destination = P("v1.qcow2"), DestinationFormat = ImageFormat.Qcow2 }),
            cleanup: () => Delete(P("q1.qcow2"), P("v1.qcow2"))).ConfigureAwait(false);
        await Row("convert qcow2→raw (2 GiB)", () => Qemu("convert", "-O", "raw", P("ref.qcow2"), P("q2.raw")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("ref.qcow2")], Destination = P("v2.raw"), DestinationFormat = ImageFormat.Raw }),
            cleanup: () => Delete(P("q2.raw"), P("v2.raw"))).ConfigureAwait(false);

        MakeMixedRaw(P("small.raw"), Gib / 4, seed: 2);
        await Row("convert -c raw→qcow2 (256 MiB mix)", () => Qemu("convert", "-c", "-O", "qcow2", P("small.raw"), P("q3.qcow2")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("small.raw")], Destination = P("v3.qcow2"), DestinationFormat = ImageFormat.Qcow2, Compress = true }),
            cleanup: () => Delete(P("q3.qcow2"), P("v3.qcow2")), runs: Math.Min(s_runs, 2), outputs: (P("q3.qcow2"), P("v3.qcow2"))).ConfigureAwait(false);

        // Compressible data: what -c is for. The mix above is mostly random (incompressible) or zeroes.
        MakeTextRaw(P("text.raw"), Gib / 4, seed: 3);
        await Row("convert -c raw→qcow2 (256 MiB text)", () => Qemu("convert", "-c", "-O", "qcow2", P("text.raw"), P("q5.qcow2")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("text.raw")], Destination = P("v5.qcow2"), DestinationFormat = ImageFormat.Qcow2, Compress = true }),
            cleanup: () => Delete(P("q5.qcow2"), P("v5.qcow2")), runs: Math.Min(s_runs, 2), outputs: (P("q5.qcow2"), P("v5.qcow2"))).ConfigureAwait(false);

        // 3-deep chain: base (the 2 GiB qcow2) <- mid <- top, overlays with scattered writes.
        Qemu("create", "-q", "-f", "qcow2", "-b", "ref.qcow2", "-F", "qcow2", P("mid.qcow2"));
        Qemu("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", P("top.qcow2"));
        await ScatterAsync(P("mid.qcow2"), 3).ConfigureAwait(false);
        await ScatterAsync(P("top.qcow2"), 4).ConfigureAwait(false);
        await Row("read 3-deep chain → raw (2 GiB)", () => Qemu("convert", "-O", "raw", P("top.qcow2"), P("q4.raw")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("top.qcow2")], Destination = P("v4.raw"), DestinationFormat = ImageFormat.Raw }),
            cleanup: () => Delete(P("q4.raw"), P("v4.raw"))).ConfigureAwait(false);

        Qemu("create", "-q", "-f", "qcow2", P("big.qcow2"), "64G");
        await ScatterAsync(P("big.qcow2"), 5, writes: 2000).ConfigureAwait(false);
        await Row("info (64 GiB sparse)", () => Qemu("info", P("big.qcow2")), () => { DiskImage.Inspect(P("big.qcow2")); return Task.CompletedTask; }, runs: 5).ConfigureAwait(false);
        await Row("check (64 GiB sparse)", () => Qemu("check", P("big.qcow2")), () => { DiskImage.Check(P("big.qcow2")); return Task.CompletedTask; }, runs: 5).ConfigureAwait(false);
        Console.WriteLine("(info/check: qemu-img timings include its process start; Vireo's are in-process)");
    }

    /// <summary>
    /// child-convert SRC DST [raw|qcow2] [-c]: one convert in a fresh process, printing its peak RSS; with
    /// VIREO_BENCH_VERBOSE set also its wall and CPU time (for profiling one path in isolation).
    /// </summary>
    private static async Task<int> ChildConvertAsync(string[] args)
    {
        var fmt = args.Length > 3 ? DiskImage.ParseFormat(args[3]) : ImageFormat.Qcow2;
        bool compress = args.Length > 4 && args[4] == "-c";
        var me = Process.GetCurrentProcess();
        var cpu0 = me.UserProcessorTime;
        var sys0 = me.PrivilegedProcessorTime;
        var sw = Stopwatch.StartNew();
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [args[1]], Destination = args[2], DestinationFormat = fmt, Compress = compress }).ConfigureAwait(false);
        sw.Stop();
        me.Refresh();
        var hwm = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        Console.WriteLine(hwm.Replace("VmHWM:", "", StringComparison.Ordinal).Trim());
        if (Environment.GetEnvironmentVariable("VIREO_BENCH_VERBOSE") is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wall {sw.Elapsed.TotalSeconds:0.000} s user {(me.UserProcessorTime - cpu0).TotalSeconds:0.000} s sys {(me.PrivilegedProcessorTime - sys0).TotalSeconds:0.000} s gc committed {GC.GetGCMemoryInfo().TotalCommittedBytes >> 20} MiB gcs {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}"));
        }

        return 0;
    }

    private static async Task Row(string name, Action qemu, Func<Task> vireo, Action? cleanup = null, int runs = -1, (string Qemu, string Vireo)? outputs = null)
    {
        runs = runs < 0 ? s_runs : runs;
        double q = double.MaxValue;
        double v = double.MaxValue;
        long qSize = 0;
        long vSize = 0;
        await vireo().ConfigureAwait(false); // warm-up (JIT)
        cleanup?.Invoke();
        for (int i = 0; i < runs; i++)
        {
            // Each tool starts from the same state: the other's output deleted and everything synced
            // (otherwise one pays for the other's writeback and discards).
            Sync();
            var sw = Stopwatch.StartNew();
            qemu();
            q = Math.Min(q, sw.Elapsed.TotalSeconds);
            qSize = outputs is { } oq ? new FileInfo(oq.Qemu).Length : 0;
            cleanup?.Invoke();
            Sync();
            sw.Restart();
            await vireo().ConfigureAwait(false);
            v = Math.Min(v, sw.Elapsed.TotalSeconds);
            vSize = outputs is { } ov ? new FileInfo(ov.Vireo).Length : 0;
            cleanup?.Invoke();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-38}{q,10:0.000} s{v,10:0.000} s{q / v,8:0.00}×"));
        if (outputs is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"  output size",-38}{qSize / (double)Mib,8:0.0} MiB{vSize / (double)Mib,8:0.0} MiB{(vSize - qSize) * 100.0 / qSize,+7:+0.0;-0.0} %"));
        }
    }

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void Sync();

    /// <summary>
    /// Text-like, compressible data (log lines of words from a fixed vocabulary) with zeroes and holes:
    /// of each 8 MiB, one is written zeroes and two are holes. Deterministic for a seed.
    /// </summary>
    private static void MakeTextRaw(string path, long size, int seed)
    {
        var rnd = new Random(seed);
        var words = new string[4000];
        for (int i = 0; i < words.Length; i++)
        {
            var w = new char[rnd.Next(2, 11)];
            for (int j = 0; j < w.Length; j++)
            {
                w[j] = (char)('a' + rnd.Next(26));
            }

            words[i] = new string(w);
        }

        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        fs.SetLength(size);
        var buf = new byte[Mib];
        var sb = new StringBuilder();
        for (long mi = 0; mi < size / Mib; mi++)
        {
            if (mi % 4 == 3)
            {
                continue;
            }

            if (mi % 8 == 1)
            {
                Array.Clear(buf);
            }
            else
            {
                sb.Clear();
                while (sb.Length < Mib)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"{rnd.Next(100_000_000):00000000} ");
                    int n = rnd.Next(3, 13);
                    for (int k = 0; k < n; k++)
                    {
                        sb.Append(words[rnd.Next(words.Length)]).Append(' ');
                    }

                    sb.Append(CultureInfo.InvariantCulture, $"level={rnd.Next(8)} ").Append(words[rnd.Next(words.Length)]).Append('\n');
                }

                Encoding.ASCII.GetBytes(sb.ToString(0, (int)Mib), buf);
            }

            RandomAccess.Write(fs.SafeFileHandle, buf, mi * Mib);
        }
    }

    private static void MakeMixedRaw(string path, long size, int seed)
    {
        var rnd = new Random(seed);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        fs.SetLength(size);
        var buf = new byte[1 << 20];
        var zero = new byte[1 << 20];
        for (long off = 0; off < size; off += buf.Length)
        {
            switch ((off / buf.Length) % 3)
            {
                case 0:
                    rnd.NextBytes(buf);
                    RandomAccess.Write(fs.SafeFileHandle, buf, off);
                    break;
                case 1:
                    RandomAccess.Write(fs.SafeFileHandle, zero, off);
                    break;
            }
        }
    }

    private static async Task ScatterAsync(string path, int seed, int writes = 300)
    {
        using var img = DiskImage.Open(path, ImageFormat.Qcow2, options: new ImageOpenOptions { NoBacking = false });
        var rnd = new Random(seed);
        var buf = new byte[65536];
        for (int i = 0; i < writes; i++)
        {
            rnd.NextBytes(buf);
            long off = rnd.NextInt64(img.VirtualSize / 65536) * 65536;
            await img.WriteAsync(off, buf).ConfigureAwait(false);
        }
    }

    private static void Qemu(params string[] args)
    {
        var psi = new ProcessStartInfo("qemu-img") { RedirectStandardOutput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"qemu-img {string.Join(' ', args)} exited {p.ExitCode}");
        }
    }

    private static void Delete(params string[] paths)
    {
        foreach (var p in paths)
        {
            File.Delete(p);
        }
    }
}
