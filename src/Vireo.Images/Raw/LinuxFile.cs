using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Raw;

/// <summary>The few file system calls sparse images need: SEEK_DATA/SEEK_HOLE and fallocate.</summary>
internal static partial class LinuxFile
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int FallocPunchHole = 0x02;
    private const int FallocKeepSize = 0x01;
    private const int Enxio = 6;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(int fd, int mode, long offset, long len);

    private static int Fd(SafeFileHandle h) => (int)h.DangerousGetHandle();

    /// <summary>Next data at or after <paramref name="offset"/>, or -1 when only a hole follows (or SEEK_DATA is unsupported: -2).</summary>
    public static long NextData(SafeFileHandle h, long offset)
    {
        long r = LSeek(Fd(h), offset, SeekData);
        if (r >= 0)
        {
            return r;
        }

        return Marshal.GetLastPInvokeError() == Enxio ? -1 : -2;
    }

    public static long NextHole(SafeFileHandle h, long offset)
    {
        long r = LSeek(Fd(h), offset, SeekHole);
        return r >= 0 ? r : -2;
    }

    public static bool PunchHole(SafeFileHandle h, long offset, long length) =>
        FAllocate(Fd(h), FallocPunchHole | FallocKeepSize, offset, length) == 0;

    /// <summary>
    /// Writes of at least this many bytes have their range allocated (<see cref="Allocate"/>) first: buffered
    /// writes into allocated blocks skip the file system's delayed-allocation bookkeeping, most of the kernel's
    /// cost per page on ext4 (perf: ext4_da_get_block_prep, the extent status tree, buffer heads). Only the
    /// range about to be written is allocated, so holes stay holes. Below this size a syscall costs more.
    /// </summary>
    public const int MinAllocateAhead = 64 * 1024;

    public static bool Allocate(SafeFileHandle h, long offset, long length) =>
        FAllocate(Fd(h), 0, offset, length) == 0;
}

/// <summary>fstat's allocated-blocks count, for "actual size" (what du reports).</summary>
internal static partial class FileStat
{
    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static unsafe partial int FStat(int fd, byte* buf);

    public static unsafe long AllocatedBytes(SafeFileHandle h)
    {
        byte* buf = stackalloc byte[256];
        if (FStat((int)h.DangerousGetHandle(), buf) != 0)
        {
            return RandomAccess.GetLength(h);
        }

        // x86_64 and aarch64 struct stat: st_blocks (512-byte units) at offset 64.
        return *(long*)(buf + 64) * 512;
    }
}
