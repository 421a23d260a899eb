using System.Runtime.InteropServices;
using Vireo.Model;

namespace Vireo.Engine.Storage;

/// <summary>The few syscalls storage needs that .NET does not expose: statvfs, st_blocks, mount, fallocate.</summary>
internal static unsafe partial class StorageNative
{
    private const ulong BlkGetSize64 = 0x80081272;

    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfs
    {
        public ulong Bsize;
        public ulong Frsize;
        public ulong Blocks;
        public ulong Bfree;
        public ulong Bavail;
        public ulong Files;
        public ulong Ffree;
        public ulong Favail;
        public ulong Fsid;
        public ulong Flag;
        public ulong Namemax;
        public fixed int Spare[6];
    }

    [LibraryImport("libc", EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatVfsNative(string path, StatVfs* buf);

    // struct stat on x86_64 is 144 bytes; st_size is at 48, st_blocks at 64, st_mode at 24.
    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LStatNative(string path, byte* buf);

    [LibraryImport("libc", EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MountNative(string source, string target, string fsType, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FallocateNative(int fd, int mode, long offset, long len);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlNative(int fd, ulong request, long* arg);

    /// <summary>Capacity, used and available bytes of the file system holding <paramref name="path"/>, as libvirt computes them.</summary>
    public static (long Capacity, long Allocation, long Available) FileSystemFigures(string path)
    {
        StatVfs s;
        if (StatVfsNative(path, &s) != 0)
        {
            throw Errno($"statvfs '{path}'");
        }

        long frsize = (long)s.Frsize;
        return ((long)s.Blocks * frsize, (long)(s.Blocks - s.Bfree) * frsize, (long)s.Bavail * frsize);
    }

    /// <summary>st_size and st_blocks*512 of a path (not following a final symlink).</summary>
    public static (long Size, long Allocated, uint Mode) Stat(string path)
    {
        var s = StatFull(path);
        return (s.Size, s.Allocated, s.Mode);
    }

    /// <summary>lstat: size, allocated bytes, mode, owner and group.</summary>
    public static (long Size, long Allocated, uint Mode, uint Uid, uint Gid) StatFull(string path)
    {
        byte* buf = stackalloc byte[256];
        if (LStatNative(path, buf) != 0)
        {
            throw Errno($"stat '{path}'");
        }

        return (*(long*)(buf + 48), *(long*)(buf + 64) * 512, *(uint*)(buf + 24), *(uint*)(buf + 28), *(uint*)(buf + 32));
    }

    [LibraryImport("libc", EntryPoint = "chmod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int ChmodNative(string path, uint mode);

    public static void Chmod(string path, int mode)
    {
        if (ChmodNative(path, (uint)mode) != 0)
        {
            throw Errno($"chmod '{path}'");
        }
    }

    public static void Mount(string source, string target, string fsType)
    {
        if (MountNative(source, target, fsType, 0, 0) != 0)
        {
            throw Errno($"mount {source} on {target} ({fsType})");
        }
    }

    public static void Unmount(string target)
    {
        if (Umount2Native(target, 0) != 0)
        {
            throw Errno($"unmount {target}");
        }
    }

    /// <summary>Reserves <paramref name="length"/> bytes at the start of an open file without changing its size.</summary>
    public static void Fallocate(SafeHandle file, long offset, long length)
    {
        if (length <= 0)
        {
            return;
        }

        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            if (FallocateNative((int)file.DangerousGetHandle(), 0, offset, length) != 0)
            {
                throw Errno("fallocate");
            }
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    /// <summary>Size of a block device in bytes (BLKGETSIZE64).</summary>
    public static long BlockDeviceSize(SafeHandle file)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            long size = 0;
            if (IoctlNative((int)file.DangerousGetHandle(), BlkGetSize64, &size) != 0)
            {
                throw Errno("BLKGETSIZE64");
            }

            return size;
        }
        finally
        {
            file.DangerousRelease();
        }
    }

    public static bool IsBlockDevice(uint mode) => (mode & 0xF000) == 0x6000;

    public static bool IsRegularFile(uint mode) => (mode & 0xF000) == 0x8000;

    private static VireoException Errno(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new VireoException(ErrorKind.OperationFailed, $"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }
}
