using System.Runtime.InteropServices;

namespace Vireo.Images.Qcow2;

/// <summary>
/// The system zlib, for raw deflate with the 4 KiB window (windowBits -12) that qemu uses for compressed
/// clusters: System.IO.Compression cannot choose the window, and a 32 KiB window produces streams qemu
/// refuses to inflate.
/// </summary>
internal static unsafe partial class ZlibNative
{
    private const string Lib = "libz.so.1";
    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZFinish = 4;
    private const int ZDeflated = 8;
    private const int WindowBits = -12;

    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public nint Msg;
        public nint State;
        public nint ZAlloc;
        public nint ZFree;
        public nint Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport(Lib, EntryPoint = "deflateInit2_", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int DeflateInit2(ZStream* strm, int level, int method, int windowBits, int memLevel, int strategy, string version, int streamSize);

    [LibraryImport(Lib, EntryPoint = "deflate")]
    private static partial int Deflate(ZStream* strm, int flush);

    [LibraryImport(Lib, EntryPoint = "deflateEnd")]
    private static partial int DeflateEnd(ZStream* strm);

    [LibraryImport(Lib, EntryPoint = "inflateInit2_", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InflateInit2(ZStream* strm, int windowBits, string version, int streamSize);

    [LibraryImport(Lib, EntryPoint = "inflate")]
    private static partial int Inflate(ZStream* strm, int flush);

    [LibraryImport(Lib, EntryPoint = "inflateEnd")]
    private static partial int InflateEnd(ZStream* strm);

    [LibraryImport(Lib, EntryPoint = "deflateReset")]
    private static partial int DeflateReset(ZStream* strm);

    [LibraryImport(Lib, EntryPoint = "inflateReset")]
    private static partial int InflateReset(ZStream* strm);

    // One stream per thread, reset per cluster: initializing a deflate stream allocates ~270 KiB, which per
    // cluster costs more than the compression itself. Threads are pool threads, so these live for the process.
    [ThreadStatic]
    private static nint t_deflater;

    [ThreadStatic]
    private static nint t_inflater;

    [ThreadStatic]
    private static int t_deflaterLevel;

    /// <summary>Returns the compressed length, or -1 when the output does not fit in <paramref name="dst"/>.</summary>
    public static int Compress(ReadOnlySpan<byte> src, Span<byte> dst, int level)
    {
        var z = (ZStream*)t_deflater;
        if (z is null || t_deflaterLevel != level)
        {
            if (z is not null)
            {
                DeflateEnd(z);
                NativeMemory.Free(z);
            }

            z = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
            if (DeflateInit2(z, level, ZDeflated, WindowBits, 8, 0, "1.2.13", sizeof(ZStream)) != ZOk)
            {
                NativeMemory.Free(z);
                throw new ImageException("zlib: deflateInit2 failed");
            }

            t_deflater = (nint)z;
            t_deflaterLevel = level;
        }
        else
        {
            DeflateReset(z);
        }

        fixed (byte* pin = src)
        fixed (byte* pout = dst)
        {
            z->NextIn = pin;
            z->AvailIn = (uint)src.Length;
            z->NextOut = pout;
            z->AvailOut = (uint)dst.Length;
            int rc = Deflate(z, ZFinish);
            return rc == ZStreamEnd ? (int)z->TotalOut : -1;
        }
    }

    /// <summary>Inflates until <paramref name="dst"/> is full; returns the bytes produced, or -1 on bad data.</summary>
    public static int Decompress(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        var z = (ZStream*)t_inflater;
        if (z is null)
        {
            z = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
            if (InflateInit2(z, WindowBits, "1.2.13", sizeof(ZStream)) != ZOk)
            {
                NativeMemory.Free(z);
                throw new ImageException("zlib: inflateInit2 failed");
            }

            t_inflater = (nint)z;
        }
        else
        {
            InflateReset(z);
        }

        fixed (byte* pin = src)
        fixed (byte* pout = dst)
        {
            z->NextIn = pin;
            z->AvailIn = (uint)src.Length;
            z->NextOut = pout;
            z->AvailOut = (uint)dst.Length;
            int rc = Inflate(z, ZFinish);
            return rc == ZStreamEnd || rc == ZOk || rc == -5 ? (int)z->TotalOut : -1;
        }
    }
}
