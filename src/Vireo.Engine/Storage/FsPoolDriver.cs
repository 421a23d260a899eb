using System.Text;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>A block device holding a file system, mounted on the target directory; volumes are its files.</summary>
internal sealed class FsPoolDriver : DirPoolDriver
{
    public static new readonly FsPoolDriver Instance = new();

    public override void Build(StoragePoolDefinition def, PoolBuildMode mode)
    {
        base.Build(def, mode);
        string device = def.Source.Devices[0];
        if (mode == PoolBuildMode.Default)
        {
            return;
        }

        string format = def.Source.Format is null or "auto"
            ? throw VireoException.Invalid($"storage pool '{def.Name}': pool-build needs a file system type to format '{device}' (<source><format type='ext4'/>)")
            : def.Source.Format;
        if (mode == PoolBuildMode.NoOverwrite)
        {
            // blkid -p exits 2 when it finds no signature at all.
            var (rc, stdout, _) = ExternalTool.RunFull($"storage pool '{def.Name}': probe {device}", ["blkid", "-p", "-o", "value", "-s", "TYPE", device], allowFailure: true);
            if (rc == 0)
            {
                throw VireoException.State($"storage pool '{def.Name}': device '{device}' already holds a '{stdout.Trim()}' file system; use --overwrite to format it");
            }
        }

        string[] argv = format switch
        {
            "ext2" or "ext3" or "ext4" => [$"mkfs.{format}", "-F", "-q", device],
            "xfs" => ["mkfs.xfs", "-f", "-q", device],
            "vfat" => ["mkfs.vfat", device],
            _ => throw VireoException.Unsupported($"storage pool '{def.Name}': cannot format '{device}' as '{format}' (ext2, ext3, ext4, xfs, vfat)"),
        };
        ExternalTool.Run($"storage pool '{def.Name}': format {device}", argv);
    }

    public override void Start(StoragePoolDefinition def)
    {
        base.Start(def);
        string device = def.Source.Devices[0];
        if (IsMounted(def.TargetPath))
        {
            return;
        }

        if (def.Source.Format is null or "auto")
        {
            // mount(2) needs a type; mount(8) probes it with libblkid.
            ExternalTool.Run($"storage pool '{def.Name}': mount {device}", ["mount", "--", device, def.TargetPath]);
        }
        else
        {
            StorageNative.Mount(device, def.TargetPath, def.Source.Format);
        }
    }

    public override void Stop(StoragePoolDefinition def)
    {
        if (IsMounted(def.TargetPath))
        {
            StorageNative.Unmount(def.TargetPath);
        }
    }

    public override void Delete(StoragePoolDefinition def)
    {
        if (IsMounted(def.TargetPath))
        {
            throw VireoException.State($"storage pool '{def.Name}': '{def.TargetPath}' is still mounted");
        }

        base.Delete(def);
    }

    /// <summary>Whether something is mounted exactly on <paramref name="dir"/> (field 5 of /proc/self/mountinfo).</summary>
    internal static bool IsMounted(string dir)
    {
        string full = Path.GetFullPath(dir).TrimEnd('/');
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] f = line.Split(' ');
            if (f.Length > 4 && Unescape(f[4]) == full)
            {
                return true;
            }
        }

        return false;
    }

    private static string Unescape(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }
}
