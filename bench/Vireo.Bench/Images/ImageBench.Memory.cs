using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Vireo.Bench.Images;

/// <summary>
/// Peak memory (max RSS) of qemu-img and Vireo doing the same converts, on the 2 GiB mix and on a 1 TiB
/// sparse qcow2 whose writes are scattered over ~1700 L2 tables: memory must not grow with the image.
/// Vireo is the CLI named by VIREO_EXE (build it Native AOT to measure what users run), else this bench
/// in a child process (a JIT-compiled .NET process, which costs ~25 MiB more).
/// </summary>
internal static partial class ImageBench
{
    private static async Task MemoryAsync(string dir)
    {
        string P(string n) => Path.Combine(dir, n);
        string? exe = Environment.GetEnvironmentVariable("VIREO_EXE");
        Console.WriteLine();
        Console.WriteLine("Setting up a 1 TiB qcow2 with 4000 scattered 64 KiB writes ...");
        Qemu("create", "-q", "-f", "qcow2", P("huge.qcow2"), "1T");
        await ScatterAsync(P("huge.qcow2"), 6, writes: 4000).ConfigureAwait(false);
        Qemu("convert", "-O", "raw", P("huge.qcow2"), P("huge.raw"));
        MakeTextRaw(P("text.raw"), Gib / 4, seed: 3);

        Console.WriteLine($"Peak RSS (max RSS of the process); vireo = {(exe is null ? "the bench in a child process (JIT .NET, not AOT)" : exe)}");
        Console.WriteLine($"{"convert",-46}{"qemu-img",12}{"vireo",12}");
        var cases = new (string Name, string Src, string Fmt, bool Compress)[]
        {
            ("raw→qcow2, 2 GiB mix", P("src.raw"), "qcow2", false),
            ("qcow2→raw, 2 GiB mix", P("ref.qcow2"), "raw", false),
            ("-c raw→qcow2, 256 MiB text", P("text.raw"), "qcow2", true),
            ("qcow2→raw, 1 TiB sparse qcow2", P("huge.qcow2"), "raw", false),
            ("raw→qcow2, 1 TiB sparse raw", P("huge.raw"), "qcow2", false),
            ("-c qcow2→qcow2, 1 TiB sparse qcow2", P("huge.qcow2"), "qcow2", true),
        };
        foreach (var c in cases)
        {
            string dst = P("mem.out");
            var q = new List<string> { "qemu-img", "convert" };
            if (c.Compress)
            {
                q.Add("-c");
            }

            q.AddRange(["-O", c.Fmt, c.Src, dst]);
            long qk = await MaxRssAsync(q).ConfigureAwait(false);
            Delete(dst);

            var v = new List<string>();
            if (exe is not null)
            {
                v.AddRange([exe, "img", "convert"]);
                if (c.Compress)
                {
                    v.Add("-c");
                }

                v.AddRange(["-O", c.Fmt, c.Src, dst]);
            }
            else
            {
                v.AddRange(SelfCommand());
                v.AddRange(["img", "child-convert", c.Src, dst, c.Fmt]);
                if (c.Compress)
                {
                    v.Add("-c");
                }
            }

            long vk = await MaxRssAsync(v).ConfigureAwait(false);
            Delete(dst);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Name,-46}{qk / 1024.0,8:0.0} MiB{vk / 1024.0,8:0.0} MiB"));
        }
    }

    /// <summary>This bench as a command line: the AOT/apphost binary, or dotnet and the dll.</summary>
    private static List<string> SelfCommand()
    {
        string self = Environment.ProcessPath!;
        var cmd = new List<string> { self };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            cmd.Add(Environment.GetCommandLineArgs()[0]);
        }

        return cmd;
    }

    /// <summary>Runs a command under child-rusage (so that it is the wrapper's only child) and returns its max RSS in KiB.</summary>
    private static async Task<long> MaxRssAsync(List<string> cmd)
    {
        var all = SelfCommand();
        all.AddRange(["img", "child-rusage"]);
        all.AddRange(cmd);
        var psi = new ProcessStartInfo(all[0]) { RedirectStandardOutput = true };
        foreach (var a in all.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string o = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', cmd)} exited {p.ExitCode}");
        }

        return long.Parse(o.Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// child-rusage CMD ARGS...: runs the command, then prints getrusage(RUSAGE_CHILDREN).ru_maxrss: the
    /// largest reaped child's peak RSS in KiB, which is the command's, as it is the only child.
    /// </summary>
    private static int ChildRusage(string[] cmd)
    {
        var psi = new ProcessStartInfo(cmd[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in cmd[1..])
        {
            psi.ArgumentList.Add(a);
        }

        using (var p = Process.Start(psi)!)
        {
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine(err.GetAwaiter().GetResult());
                return p.ExitCode;
            }
        }

        // struct rusage on 64-bit Linux: two timevals (4 longs), then ru_maxrss.
        var ru = new long[18];
        if (GetRusage(-1, ru) != 0)
        {
            return 1;
        }

        Console.WriteLine(ru[4].ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, [Out] long[] usage);
}
