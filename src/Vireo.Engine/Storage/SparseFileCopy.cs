using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Engine.Storage;

/// <summary>
/// A byte-for-byte copy of a file's data extents: SEEK_DATA/SEEK_HOLE find them and copy_file_range moves them
/// inside the kernel (a reflink where the file system shares extents), so holes stay holes and no byte passes
/// through this process. A self-contained image copied this way is a full clone of it, made far faster than
/// decoding and re-encoding every cluster.
/// </summary>
internal static partial class SparseFileCopy
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int Enxio = 6;
    private const int Exdev = 18;
    private const int Enosys = 38;
    private const int Eopnotsupp = 95;
    private const long Step = 16L << 20;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static unsafe partial nint CopyFileRange(SafeFileHandle fdIn, long* offIn, SafeFileHandle fdOut, long* offOut, nuint len, uint flags);

    /// <summary>
    /// Copies <paramref name="source"/> into the empty file <paramref name="destination"/>. Like qemu-img convert it
    /// leaves the data to the page cache (no fsync): a killed process loses nothing already written.
    /// </summary>
    public static void Copy(string source, string destination, IProgress<double>? progress, CancellationToken ct)
    {
        using var src = File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var dst = File.OpenHandle(destination, FileMode.Open, FileAccess.Write, FileShare.None);
        long length = RandomAccess.GetLength(src);
        var pieces = DataPieces(src, source, length);
        long copied = 0;

        // The copy is memory bandwidth bound: pieces go to one worker per core.
        try
        {
            Parallel.ForEach(pieces, new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 4), CancellationToken = ct }, piece =>
            {
                CopyRange(src, dst, piece.From, piece.To, source, destination, ct);
                long now = Interlocked.Add(ref copied, piece.To - piece.From);
                progress?.Report((double)now / Math.Max(1, length));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions[0] is IOException or OperationCanceledException)
        {
            // Callers handle an I/O error or a cancellation, not the parallel loop's wrapper around it.
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }

        // The tail may be a hole: the length says how far the image reaches.
        RandomAccess.SetLength(dst, length);
        progress?.Report(1);
    }

    /// <summary>The file's data extents (SEEK_DATA/SEEK_HOLE), cut into pieces of at most <see cref="Step"/> bytes.</summary>
    private static List<(long From, long To)> DataPieces(SafeFileHandle src, string source, long length)
    {
        var pieces = new List<(long, long)>();
        long offset = 0;
        while (offset < length)
        {
            long data = LSeek(src, offset, SeekData);
            if (data < 0)
            {
                if (Marshal.GetLastPInvokeError() == Enxio)
                {
                    break; // nothing but a hole to the end
                }

                throw Errno($"seek in '{source}'");
            }

            long hole = LSeek(src, data, SeekHole);
            if (hole < 0)
            {
                throw Errno($"seek in '{source}'");
            }

            hole = Math.Min(hole, length);
            for (long p = data; p < hole; p += Step)
            {
                pieces.Add((p, Math.Min(p + Step, hole)));
            }

            offset = hole;
        }

        return pieces;
    }

    private static unsafe void CopyRange(SafeFileHandle src, SafeFileHandle dst, long from, long to, string source, string destination, CancellationToken ct)
    {
        long inOff = from;
        long outOff = from;
        while (inOff < to)
        {
            ct.ThrowIfCancellationRequested();
            nint n = CopyFileRange(src, &inOff, dst, &outOff, (nuint)(to - inOff), 0);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Exdev or Enosys or Eopnotsupp)
                {
                    CopyThroughBuffer(src, dst, ref inOff, to);
                    outOff = inOff;
                    continue;
                }

                throw Errno($"copy '{source}' to '{destination}'");
            }

            if (n == 0)
            {
                throw new IOException($"copy '{source}' to '{destination}': the source ended at {inOff} while {to} was expected (it shrank during the copy)");
            }
        }
    }

    // Older kernels refuse copy_file_range across file systems: do it the plain way.
    private static void CopyThroughBuffer(SafeFileHandle src, SafeFileHandle dst, ref long offset, long to)
    {
        var buffer = new byte[4 << 20];
        while (offset < to)
        {
            int n = RandomAccess.Read(src, buffer.AsSpan(0, (int)Math.Min(buffer.Length, to - offset)), offset);
            if (n == 0)
            {
                throw new IOException($"unexpected end of file at {offset}");
            }

            RandomAccess.Write(dst, buffer.AsSpan(0, n), offset);
            offset += n;
        }
    }

    private static IOException Errno(string what) =>
        new($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
}
