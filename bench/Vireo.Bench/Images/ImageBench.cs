using System.Diagnostics;
using System.Globalization;
using Vireo.Images;

namespace Vireo.Bench.Images;

/// <summary>
/// Side by side with qemu-img, same inputs, one run, ratios printed (ratio = qemu-img time / Vireo time, so
/// above 1 means Vireo is faster). Data lives under /tmp and is deleted at the end. Vireo runs in-process
/// after a warm-up; its peak memory is measured in a child process doing the largest convert.
/// </summary>
internal static class ImageBench
{
    private const long Gib = 1L << 30;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "child-convert")
        {
            return await ChildConvertAsync(args).ConfigureAwait(false);
        }

        string dir = Directory.CreateTempSubdirectory("vireo-img-bench-").FullName;
        try
        {
            await RunAllAsync(dir).ConfigureAwait(false);
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
        await Row("convert -c raw→qcow2 (256 MiB)", () => Qemu("convert", "-c", "-O", "qcow2", P("small.raw"), P("q3.qcow2")),
            () => DiskImage.ConvertAsync(new ConvertOptions { Sources = [P("small.raw")], Destination = P("v3.qcow2"), DestinationFormat = ImageFormat.Qcow2, Compress = true }),
            cleanup: () => Delete(P("q3.qcow2"), P("v3.qcow2")), runs: 1).ConfigureAwait(false);

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

        // Peak memory of a fresh process doing the largest convert.
        string self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        }

        psi.ArgumentList.Add("img");
        psi.ArgumentList.Add("child-convert");
        psi.ArgumentList.Add(P("src.raw"));
        psi.ArgumentList.Add(P("m.qcow2"));
        using (var p = Process.Start(psi)!)
        {
            string o = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await p.WaitForExitAsync().ConfigureAwait(false);
            Console.WriteLine($"vireo peak RSS converting 2 GiB raw→qcow2 (whole .NET process): {o.Trim()}");
        }

        Delete(P("m.qcow2"));
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
                $"wall {sw.Elapsed.TotalSeconds:0.000} s user {(me.UserProcessorTime - cpu0).TotalSeconds:0.000} s sys {(me.PrivilegedProcessorTime - sys0).TotalSeconds:0.000} s"));
        }

        return 0;
    }

    private static async Task Row(string name, Action qemu, Func<Task> vireo, Action? cleanup = null, int runs = 3)
    {
        double q = double.MaxValue;
        double v = double.MaxValue;
        await vireo().ConfigureAwait(false); // warm-up (JIT)
        cleanup?.Invoke();
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            qemu();
            q = Math.Min(q, sw.Elapsed.TotalSeconds);
            cleanup?.Invoke();
            sw.Restart();
            await vireo().ConfigureAwait(false);
            v = Math.Min(v, sw.Elapsed.TotalSeconds);
            cleanup?.Invoke();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-38}{q,10:0.000} s{v,10:0.000} s{q / v,8:0.00}×"));
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
