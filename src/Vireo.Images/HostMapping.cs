using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images;

/// <summary>
/// A read-only window of an image file mapped into memory (mmap, MAP_POPULATE). Convert reads data through
/// these instead of pread: the page-cache pages are scanned for zeroes and handed straight to the target's
/// pwrite, so every byte is copied once instead of twice. Windows are small and unmapped as soon as they
/// are written, so resident memory stays bounded whatever the image size.
/// </summary>
internal sealed unsafe partial class HostMapping : MemoryManager<byte>
{
    private const int ProtRead = 1;
    private const int MapShared = 1;
    private const int MapPopulate = 0x8000;
    private const long PageMask = 4095;

    private nint _base;
    private readonly nuint _mapLength;
    private readonly int _skip;
    private readonly int _length;

    private HostMapping(nint @base, nuint mapLength, int skip, int length)
    {
        _base = @base;
        _mapLength = mapLength;
        _skip = skip;
        _length = length;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MMap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int MUnmap(nint addr, nuint length);

    /// <summary>
    /// Maps <paramref name="length"/> bytes at <paramref name="offset"/>, or returns null when that is not
    /// possible (the range is not wholly inside the file now, or the file cannot be mapped): callers then read.
    /// The end-of-file check matters: touching a mapped page past the end raises SIGBUS.
    /// </summary>
    public static HostMapping? TryMap(SafeFileHandle file, long offset, int length)
    {
        if (length <= 0 || offset < 0 || offset + length > RandomAccess.GetLength(file))
        {
            return null;
        }

        long start = offset & ~PageMask;
        int skip = (int)(offset - start);
        nuint mapLength = (nuint)(skip + length);
        nint p = MMap(0, mapLength, ProtRead, MapShared | MapPopulate, (int)file.DangerousGetHandle(), start);
        if (p == -1)
        {
            return null;
        }

        return new HostMapping(p, mapLength, skip, length);
    }

    public int Length => _length;

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_base == 0, this);
        return new Span<byte>((byte*)_base + _skip, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_base == 0, this);
        return new MemoryHandle((byte*)_base + _skip + elementIndex);
    }

    public override void Unpin()
    {
    }

    /// <summary>Unmaps the window (memory handed out by it must no longer be used).</summary>
    public void Unmap() => ((IDisposable)this).Dispose();

    protected override void Dispose(bool disposing)
    {
        if (_base != 0)
        {
            MUnmap(_base, _mapLength);
            _base = 0;
        }
    }
}
