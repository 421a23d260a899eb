using System.Globalization;

namespace Vireo.Host;

/// <summary>
/// The file-system root that every sysfs/procfs read goes through. On a real host it is "/"; tests point it at a
/// fixture tree that holds <c>sys/</c> and <c>proc/</c> copied from a host this machine is not, so the same
/// discovery code runs on both.
/// </summary>
public sealed class HostRoot
{
    /// <summary>The running machine.</summary>
    public static HostRoot System { get; } = new("/");

    public HostRoot(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    /// <summary>True for the real "/" (writes to sysfs and syscalls apply to this machine).</summary>
    public bool IsSystem => Root == "/";

    /// <summary>Maps an absolute host path such as <c>/sys/bus/pci</c> under the root.</summary>
    public string PathOf(string absolute)
    {
        if (!absolute.StartsWith('/'))
        {
            throw new ArgumentException($"host path '{absolute}' must be absolute", nameof(absolute));
        }

        return IsSystem ? absolute : Root + absolute;
    }

    /// <summary>Maps a path under the root back to the host's absolute path.</summary>
    public string HostPathOf(string full)
    {
        if (IsSystem)
        {
            return full;
        }

        return full.StartsWith(Root + "/", StringComparison.Ordinal) ? full[Root.Length..] : full;
    }

    public bool Exists(string absolute)
    {
        string p = PathOf(absolute);
        return File.Exists(p) || Directory.Exists(p);
    }

    /// <summary>The trimmed content of a sysfs/procfs file, or null when it is absent or unreadable.</summary>
    public string? ReadText(string absolute)
    {
        try
        {
            return File.ReadAllText(PathOf(absolute)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public IEnumerable<string> ReadLines(string absolute)
    {
        string? text = ReadText(absolute);
        return text is null ? [] : text.Split('\n');
    }

    public long? ReadLong(string absolute)
    {
        string? t = ReadText(absolute);
        if (t is null)
        {
            return null;
        }

        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return long.TryParse(t.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long h) ? h : null;
        }

        return long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : null;
    }

    public int? ReadInt(string absolute) => ReadLong(absolute) is long v && v is >= int.MinValue and <= int.MaxValue ? (int)v : null;

    /// <summary>Names of the entries of a directory, sorted ordinally; empty when it is absent.</summary>
    public IReadOnlyList<string> List(string absolute)
    {
        string p = PathOf(absolute);
        if (!Directory.Exists(p))
        {
            return [];
        }

        var names = Directory.EnumerateFileSystemEntries(p).Select(e => Path.GetFileName(e)).ToList();
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The last path component a symlink points to (<c>driver</c> → <c>vfio-pci</c>), or null.</summary>
    public string? LinkName(string absolute)
    {
        string? target = ResolveLink(absolute);
        return target is null ? null : Path.GetFileName(target);
    }

    /// <summary>The host path (outside the root mapping) a symlink resolves to, or null when it is not a link.</summary>
    public string? ResolveLink(string absolute)
    {
        string p = PathOf(absolute);
        try
        {
            var info = new FileInfo(p);
            string? target = info.LinkTarget;
            if (target is null)
            {
                return null;
            }

            // sysfs links are relative; a fixture keeps them relative so they resolve inside the fixture tree.
            string full = target.StartsWith('/') ? PathOf(target) : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(p)!, target));
            return HostPathOf(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes a sysfs attribute (driver_override, unbind, nr_hugepages); errors surface to the caller.</summary>
    public void WriteText(string absolute, string value)
    {
        // sysfs wants one write() with the whole value; FileMode.Open never creates a stray file on a real host.
        using var fs = new FileStream(PathOf(absolute), IsSystem ? FileMode.Open : FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite, 1);
        if (!IsSystem)
        {
            fs.SetLength(0);
        }

        byte[] bytes = global::System.Text.Encoding.ASCII.GetBytes(value);
        fs.Write(bytes);
        fs.Flush();
    }
}
