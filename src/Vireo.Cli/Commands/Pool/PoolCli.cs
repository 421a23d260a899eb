using System.Globalization;
using Vireo.Engine.State;
using Vireo.Engine.Storage;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Cli.Commands.Pool;

/// <summary>What the pool and volume handlers share: the manager, argument helpers, figures, progress.</summary>
internal static class PoolCli
{
    private static readonly AsyncLocal<StoragePoolManager?> Override = new();
    private static StoragePoolManager? _process;

    /// <summary>
    /// Who knows which volumes running domains use. The domain engine sets this at startup (see its IVolumeUsage);
    /// until then nothing counts as in use.
    /// </summary>
    public static Func<VireoPaths, IVolumeUsage> VolumeUsage { get; set; } = _ => NoVolumeUsage.Instance;

    /// <summary>The manager for this invocation; tests scope their own with <see cref="Use"/>.</summary>
    public static StoragePoolManager Manager => Override.Value ?? (_process ??= Create(VireoPaths.FromEnvironment()));

    private static StoragePoolManager Create(VireoPaths paths) => new(paths, VolumeUsage(paths));

    /// <summary>Runs the CLI against <paramref name="manager"/> in this async flow (tests).</summary>
    public static IDisposable Use(StoragePoolManager manager)
    {
        Override.Value = manager;
        return new Reset();
    }

    private sealed class Reset : IDisposable
    {
        public void Dispose() => Override.Value = null;
    }

    public static string Pool(CommandContext c, ref int pos) =>
        Manager.ResolvePoolName(c.Args.Required("pool", ref pos, "<pool>"));

    /// <summary>The <c>&lt;vol&gt;</c> argument with its optional <c>--pool</c>.</summary>
    public static VolumeInfo Volume(CommandContext c, ref int pos)
    {
        string vol = c.Args.Required("vol", ref pos, "<vol>");
        string? pool = c.Args.Value("pool");
        return Manager.FindVolume(vol, pool is null ? null : Manager.ResolvePoolName(pool));
    }

    public static string ReadXmlFile(CommandContext c, ref int pos)
    {
        string file = c.Args.Required("file", ref pos, "<file>");
        try
        {
            var fi = new FileInfo(file);
            if (fi.Exists && fi.Length > SafeXml.MaxDocumentChars)
            {
                throw VireoException.Invalid($"file '{file}' is {fi.Length} bytes, more than the limit of {SafeXml.MaxDocumentChars}");
            }

            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw VireoException.Invalid($"failed to read file '{file}': no such file or directory");
        }
    }

    public static PoolBuildMode BuildMode(CommandContext c)
    {
        if (c.Args.Has("overwrite") && c.Args.Has("no-overwrite"))
        {
            throw VireoException.Invalid("options --overwrite and --no-overwrite are mutually exclusive");
        }

        return c.Args.Has("overwrite") ? PoolBuildMode.Overwrite : c.Args.Has("no-overwrite") ? PoolBuildMode.NoOverwrite : PoolBuildMode.Default;
    }

    public static long? Bytes(CommandContext c, string option)
    {
        string? v = c.Args.Value(option);
        return v is null ? null : StorageSize.ParseWithSuffix(v, $"--{option}");
    }

    public static string Figure(long bytes, bool raw) =>
        raw ? bytes.ToString(CultureInfo.InvariantCulture) + " bytes" : StorageSize.Human(bytes);

    public static void Done(CommandContext c, string message)
    {
        c.Out.WriteLine(message);
        c.Out.WriteLine();
    }

    /// <summary>A percentage on stderr, only when stdout is a terminal (never in scripts or with --json).</summary>
    public static IProgress<double>? Progress(CommandContext c, string what)
    {
        // Only the real console: an in-process caller's writer (tests) is no terminal whatever the host's stdout is.
        if (!CommandContext.StdoutIsTerminal || c.Json || !ReferenceEquals(c.Out, Console.Out))
        {
            return null;
        }

        int last = -1;
        return new SyncProgress(f =>
        {
            int pct = (int)Math.Clamp(f * 100, 0, 100);
            if (pct != last)
            {
                last = pct;
                c.Err.Write($"\r{what}: {pct,3} %");
                if (pct == 100)
                {
                    c.Err.WriteLine();
                }
            }
        });
    }

    /// <summary>Reports on the caller's thread: <see cref="Progress{T}"/> would post to the thread pool and print out of order.</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
