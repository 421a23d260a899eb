using System.Runtime.InteropServices;

namespace Vireo.Images.Qcow2;

/// <summary>
/// The system libzstd (Debian's libzstd1, which dpkg itself needs), for compression_type=zstd clusters as
/// qemu writes them: one zstd frame per cluster at the default level. Decompression streams, because the
/// L2 entry only records a sector-rounded length and the bytes after the frame are whatever follows.
/// </summary>
internal static unsafe partial class ZstdNative
{
    private const string Lib = "libzstd.so.1";
    private const int DefaultLevel = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Buffer
    {
        public byte* Data;
        public nuint Size;
        public nuint Pos;
    }

    [LibraryImport(Lib, EntryPoint = "ZSTD_createCCtx")]
    private static partial nint CreateCCtx();

    [LibraryImport(Lib, EntryPoint = "ZSTD_compressCCtx")]
    private static partial nuint CompressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);

    [LibraryImport(Lib, EntryPoint = "ZSTD_createDCtx")]
    private static partial nint CreateDCtx();

    [LibraryImport(Lib, EntryPoint = "ZSTD_DCtx_reset")]
    private static partial nuint DCtxReset(nint dctx, int reset);

    [LibraryImport(Lib, EntryPoint = "ZSTD_decompressStream")]
    private static partial nuint DecompressStream(nint dctx, Buffer* output, Buffer* input);

    [LibraryImport(Lib, EntryPoint = "ZSTD_isError")]
    private static partial uint IsError(nuint code);

    // One context per pool thread, as for zlib: creating one per cluster costs more than the work.
    [ThreadStatic]
    private static nint t_cctx;

    [ThreadStatic]
    private static nint t_dctx;

    /// <summary>Returns the compressed length, or -1 when the frame does not fit in <paramref name="dst"/>.</summary>
    public static int Compress(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        if (t_cctx == 0)
        {
            t_cctx = CreateCCtx();
            if (t_cctx == 0)
            {
                throw new ImageException("zstd: cannot create a compression context");
            }
        }

        fixed (byte* pin = src)
        fixed (byte* pout = dst)
        {
            nuint r = CompressCCtx(t_cctx, pout, (nuint)dst.Length, pin, (nuint)src.Length, DefaultLevel);
            return IsError(r) != 0 ? -1 : (int)r;
        }
    }

    /// <summary>Decompresses until <paramref name="dst"/> is full; returns the bytes produced, or -1 on bad data.</summary>
    public static int Decompress(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        if (t_dctx == 0)
        {
            t_dctx = CreateDCtx();
            if (t_dctx == 0)
            {
                throw new ImageException("zstd: cannot create a decompression context");
            }
        }
        else
        {
            DCtxReset(t_dctx, 1);
        }

        fixed (byte* pin = src)
        fixed (byte* pout = dst)
        {
            var input = new Buffer { Data = pin, Size = (nuint)src.Length };
            var output = new Buffer { Data = pout, Size = (nuint)dst.Length };
            while (output.Pos < output.Size)
            {
                nuint lastIn = input.Pos;
                nuint lastOut = output.Pos;
                nuint r = DecompressStream(t_dctx, &output, &input);
                if (IsError(r) != 0 || (input.Pos <= lastIn && output.Pos <= lastOut))
                {
                    return -1;
                }
            }

            return (int)output.Pos;
        }
    }
}
