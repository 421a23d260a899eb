using Microsoft.Win32.SafeHandles;

namespace Vireo.Images;

/// <summary>Positional reads and writes that either complete or say why not.</summary>
internal static class FileIo
{
    /// <summary>Reads until the span is full or end of file; returns the bytes read.</summary>
    public static int ReadAtMost(SafeFileHandle h, Span<byte> buf, long offset)
    {
        int total = 0;
        while (total < buf.Length)
        {
            int n = RandomAccess.Read(h, buf[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public static void ReadExact(SafeFileHandle h, Span<byte> buf, long offset, string path, string what)
    {
        if (ReadAtMost(h, buf, offset) != buf.Length)
        {
            throw ImageException.Corrupt(path, $"{what} at offset {offset} ({buf.Length} bytes) lies past the end of the file");
        }
    }

    /// <summary>
    /// Called after every write the engine issues, in order. Tests use it to copy the file at each point a
    /// killed process could have stopped (completed writes are in the page cache, later ones never happened).
    /// </summary>
    internal static Action<SafeFileHandle>? AfterWrite { get; set; }

    public static void Write(SafeFileHandle h, ReadOnlySpan<byte> data, long offset)
    {
        RandomAccess.Write(h, data, offset);
        AfterWrite?.Invoke(h);
    }

    public static void Write(SafeFileHandle h, IReadOnlyList<ReadOnlyMemory<byte>> data, long offset)
    {
        RandomAccess.Write(h, data, offset);
        AfterWrite?.Invoke(h);
    }
}
