using System.Globalization;
using Vireo.Engine.State;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

/// <summary>
/// What a QEMU binary prints about itself (help lists, query-machines), kept in a per-user temp file keyed by
/// the binary's size and mtime: starting QEMU costs tens of milliseconds, and the answer changes only when
/// QEMU is upgraded.
/// </summary>
internal static class QemuOutputCache
{
    /// <summary>The cached output named <paramref name="what"/> (a file name suffix), else what <paramref name="run"/> returns.</summary>
    public static string GetOrRun(string emulator, string what, Func<string> run)
    {
        var info = new FileInfo(emulator);
        if (!info.Exists)
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"QEMU binary {emulator} not found (install qemu-system-x86 or set VIREO_QEMU)");
        }

        string dir = Path.Combine(Path.GetTempPath(), "vireo-qemu-help-" + Environment.UserName);
        string file = Path.Combine(dir, $"{Path.GetFileName(emulator)}-{info.Length}-{info.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture)}-{what}");
        try
        {
            if (File.Exists(file))
            {
                return File.ReadAllText(file);
            }
        }
        catch (IOException)
        {
        }

        string output = run();
        try
        {
            Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(file, output);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cache only saves a QEMU start; without it we just ask again next time.
        }

        return output;
    }
}
