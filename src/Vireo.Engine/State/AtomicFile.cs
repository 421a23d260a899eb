using System.Text;

namespace Vireo.Engine.State;

/// <summary>
/// Writes a file so that a reader (or a crash) sees either the old content or the new, never a mix:
/// write a temporary file beside it, fsync it, rename it over the target, fsync the directory.
/// </summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string content) => WriteAllBytes(path, Encoding.UTF8.GetBytes(content));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> content)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Random.Shared.Next():x}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
            FsyncDirectory(dir);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Removes a file and makes the removal durable; a missing file is not an error.</summary>
    public static void Delete(string path)
    {
        if (TryDelete(path))
        {
            FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void FsyncDirectory(string dir)
    {
        // A rename is only durable once the directory entry is; .NET has no API for that, so open it read-only.
        int fd = Native.Open(dir, Native.ORdonly | Native.ODirectory);
        if (fd >= 0)
        {
            _ = Native.Fsync(fd);
            _ = Native.Close(fd);
        }
    }
}
