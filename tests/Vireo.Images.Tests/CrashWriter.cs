using System.Globalization;

namespace Vireo.Images.Tests;

/// <summary>
/// The test assembly's entry point. Test runners load the assembly and never call it; the process-kill
/// crash test runs <c>dotnet Vireo.Images.Tests.dll crash-writer IMAGE SEED</c> as a writer to SIGKILL.
/// </summary>
public static class CrashWriter
{
    /// <summary>The environment variable that carries the key of an encrypted image to the writer.</summary>
    public const string KeyVariable = "VIREO_CRASH_WRITER_KEY";

    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "crash-writer")
        {
            Run(args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
        }

        return 0;
    }

    /// <summary>
    /// Random writes, zero writes (deallocation) and growth, forever, printing a line every 8 operations so
    /// the parent can kill it at a point it chose after real work.
    /// </summary>
    private static void Run(string path, int seed)
    {
        var rnd = new Random(seed);
        var buf = new byte[256 << 10];
        var key = Environment.GetEnvironmentVariable(KeyVariable) is { } k ? new ImageOpenOptions { Password = System.Text.Encoding.UTF8.GetBytes(k) } : null;
        var img = DiskImage.Open(path, options: key);
        try
        {
            for (long i = 0; ; i++)
            {
                long size = img.VirtualSize;
                long off = rnd.NextInt64(size - 1);
                int len = (int)Math.Min(size - off, rnd.Next(1, buf.Length));
                int op = rnd.Next(20);
                if (op < 13)
                {
                    rnd.NextBytes(buf.AsSpan(0, len));
                    img.WriteAsync(off, buf.AsMemory(0, len)).AsTask().GetAwaiter().GetResult();
                }
                else if (op < 19)
                {
                    img.WriteZeroesAsync(off, len).AsTask().GetAwaiter().GetResult();
                }
                else if (size < (256L << 20))
                {
                    // Growing moves the L1 table (and sometimes the refcount table).
                    img.Dispose();
                    try
                    {
                        DiskImage.Resize(path, size + (8L << 20), shrink: false);
                    }
                    catch (ImageException e) when (e.Message.Contains("is inconsistent", StringComparison.Ordinal))
                    {
                        // A bitmap an earlier writer left in use: resizing is refused (as by qemu-img), writing is not.
                    }

                    img = DiskImage.Open(path, options: key);
                }

                if (i % 8 == 0)
                {
                    Console.Out.WriteLine(i.ToString(CultureInfo.InvariantCulture));
                    Console.Out.Flush();
                }
            }
        }
        finally
        {
            img.Dispose();
        }
    }
}
