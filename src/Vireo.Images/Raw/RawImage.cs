using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Raw;

/// <summary>A raw image: guest offset = file offset; holes found with SEEK_DATA/SEEK_HOLE and made with punch-hole.</summary>
internal sealed class RawImage : IBlockImage
{
    private readonly SafeFileHandle _file;
    private bool _disposed;

    // Cleared at the first refusal (a block device, or a file system without fallocate).
    private bool _allocateAhead = true;

    public RawImage(string path, SafeFileHandle file, bool readOnly)
    {
        Path = path;
        _file = file;
        ReadOnly = readOnly;
        VirtualSize = RandomAccess.GetLength(file);
    }

    public string Path { get; }

    public ImageFormat Format => ImageFormat.Raw;

    public long VirtualSize { get; private set; }

    public bool ReadOnly { get; }

    public IBlockImage? Backing => null;

    internal SafeFileHandle File => _file;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        Read(offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    internal void Read(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        int n = FileIo.ReadAtMost(_file, buffer, offset);
        buffer[n..].Clear();
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        CheckWritable();
        CheckRange(offset, data.Length);
        if (_allocateAhead && data.Length >= LinuxFile.MinAllocateAhead && !LinuxFile.Allocate(_file, offset, data.Length))
        {
            _allocateAhead = false;
        }

        FileIo.Write(_file, data.Span, offset);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken ct = default)
    {
        CheckWritable();
        CheckRange(offset, length);
        if (length > 0 && !LinuxFile.PunchHole(_file, offset, length))
        {
            var zero = new byte[(int)Math.Min(length, 1 << 20)];
            for (long p = offset; p < offset + length; p += zero.Length)
            {
                FileIo.Write(_file, zero.AsSpan(0, (int)Math.Min(zero.Length, offset + length - p)), p);
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<BlockExtent> GetBlockStatusAsync(long offset, long length, CancellationToken ct = default)
    {
        CheckRange(offset, length);
        long end = offset + length;
        long data = LinuxFile.NextData(_file, offset);
        BlockExtent e;
        if (data == -2)
        {
            e = new BlockExtent(offset, length, BlockState.Data, offset, 0);
        }
        else if (data == -1 || data >= end)
        {
            e = new BlockExtent(offset, length, BlockState.Zero, null, 0);
        }
        else if (data > offset)
        {
            e = new BlockExtent(offset, data - offset, BlockState.Zero, null, 0);
        }
        else
        {
            long hole = LinuxFile.NextHole(_file, offset);
            long stop = hole < 0 ? end : Math.Min(hole, end);
            e = new BlockExtent(offset, stop > offset ? stop - offset : length, BlockState.Data, offset, 0);
        }

        return ValueTask.FromResult(e);
    }

    public ValueTask FlushAsync(CancellationToken ct = default)
    {
        if (!ReadOnly)
        {
            RandomAccess.FlushToDisk(_file);
        }

        return ValueTask.CompletedTask;
    }

    internal void Resize(long size)
    {
        CheckWritable();
        RandomAccess.SetLength(_file, size);
        VirtualSize = size;
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _file.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private void CheckWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ReadOnly)
        {
            throw new ImageException($"'{Path}': image is open read-only");
        }
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > VirtualSize || length > VirtualSize - offset)
        {
            throw new ImageException($"'{Path}': request at offset {offset} ({length} bytes) is outside the virtual size {VirtualSize}");
        }
    }
}
