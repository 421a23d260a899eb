using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Crypto;

/// <summary>
/// A raw LUKS1 file (qemu's <c>luks</c> driver): the header and key material first, the payload from
/// payload_offset sectors on. Guest sector N is payload sector N, and its plain64 IV is N. Without a password the image can be described but not read.
/// </summary>
internal sealed class LuksImage : IBlockImage
{
    private readonly SafeFileHandle _file;
    private readonly AesXts? _crypto;
    private readonly long _payload;
    private bool _disposed;

    public LuksImage(string path, SafeFileHandle file, bool readOnly, byte[]? password)
    {
        Path = path;
        _file = file;
        ReadOnly = readOnly;
        Header = LuksHeader.Read(file, 0, 0, path);
        _payload = Header.PayloadSector * AesXts.SectorSize;
        long len = RandomAccess.GetLength(file);
        if (_payload > len)
        {
            throw ImageException.Corrupt(path, $"LUKS payload offset {_payload} lies past the end of the file ({len} bytes)");
        }

        VirtualSize = (len - _payload) & ~(AesXts.SectorSize - 1L);
        if (password is not null)
        {
            var key = Header.Unlock(file, password, path);
            _crypto = new AesXts(key);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
        }
    }

    public string Path { get; }

    public ImageFormat Format => ImageFormat.Luks;

    public long VirtualSize { get; }

    public bool ReadOnly { get; }

    public IBlockImage? Backing => null;

    internal LuksHeader Header { get; }

    /// <summary>Opened without its key: it can be described, not read or written.</summary>
    internal bool IsLocked => _crypto is null;

    internal SafeFileHandle File => _file;

    public ValueTask ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Read(offset, buffer.Span);
        return ValueTask.CompletedTask;
    }

    internal void Read(long offset, Span<byte> dst)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || offset > VirtualSize || dst.Length > VirtualSize - offset)
        {
            throw new ImageException($"'{Path}': request at offset {offset} ({dst.Length} bytes) is outside the virtual size {VirtualSize}");
        }

        if (_crypto is null)
        {
            throw new ImageException($"'{Path}' is encrypted: give its key (--object secret,id=sec0,data=... and key-secret=sec0)");
        }

        // Whole sectors around the request, in bounded pieces.
        const int Piece = 1 << 20;
        long pos = offset;
        int done = 0;
        var buf = ArrayPool<byte>.Shared.Rent(Piece + AesXts.SectorSize);
        try
        {
            while (done < dst.Length)
            {
                long start = pos & ~(AesXts.SectorSize - 1L);
                int skip = (int)(pos - start);
                int want = Math.Min(dst.Length - done, Piece - skip);
                int len = (skip + want + AesXts.SectorSize - 1) & ~(AesXts.SectorSize - 1);
                var span = buf.AsSpan(0, len);
                int n = FileIo.ReadAtMost(_file, span, _payload + start);
                span[n..].Clear();
                _crypto.Decrypt(span, start / AesXts.SectorSize);
                span.Slice(skip, want).CopyTo(dst[done..]);
                done += want;
                pos += want;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(offset, data.Span, zeroes: 0);
        return ValueTask.CompletedTask;
    }

    /// <summary>Zeroes are ciphertext like anything else: encrypted and written (a hole would read as garbage).</summary>
    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(offset, default, zeroes: length);
        return ValueTask.CompletedTask;
    }

    private void Write(long offset, ReadOnlySpan<byte> data, long zeroes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long length = zeroes > 0 ? zeroes : data.Length;
        if (ReadOnly)
        {
            throw new ImageException($"'{Path}': image is open read-only");
        }

        if (offset < 0 || length < 0 || offset > VirtualSize || length > VirtualSize - offset)
        {
            throw new ImageException($"'{Path}': request at offset {offset} ({length} bytes) is outside the virtual size {VirtualSize}");
        }

        if (_crypto is null)
        {
            throw new ImageException($"'{Path}' is encrypted: give its key (--object secret,id=sec0,data=... and key-secret=sec0)");
        }

        const int Piece = 1 << 20;
        var buf = ArrayPool<byte>.Shared.Rent(Piece + (2 * AesXts.SectorSize));
        try
        {
            long done = 0;
            while (done < length)
            {
                long pos = offset + done;
                long start = pos & ~(AesXts.SectorSize - 1L);
                int skip = (int)(pos - start);
                int take = (int)Math.Min(length - done, Piece - skip);
                int len = (skip + take + AesXts.SectorSize - 1) & ~(AesXts.SectorSize - 1);
                var span = buf.AsSpan(0, len);
                if (skip != 0 || (take & (AesXts.SectorSize - 1)) != 0)
                {
                    // Partial sectors: read, decrypt and merge the old plaintext around the new bytes.
                    Read(start, span);
                }

                if (zeroes > 0)
                {
                    span.Slice(skip, take).Clear();
                }
                else
                {
                    data.Slice((int)done, take).CopyTo(span[skip..]);
                }

                _crypto.Encrypt(span, start / AesXts.SectorSize);
                FileIo.Write(_file, span, _payload + start);
                done += take;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    /// <summary>Every sector is ciphertext: all data, never mapped directly (no host offset).</summary>
    public ValueTask<BlockExtent> GetBlockStatusAsync(long offset, long length, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > VirtualSize || length > VirtualSize - offset)
        {
            throw new ImageException($"'{Path}': request at offset {offset} ({length} bytes) is outside the virtual size {VirtualSize}");
        }

        return ValueTask.FromResult(new BlockExtent(offset, length, BlockState.Data, null, 0));
    }

    public ValueTask FlushAsync(CancellationToken ct = default)
    {
        if (!ReadOnly)
        {
            RandomAccess.FlushToDisk(_file);
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _crypto?.Dispose();
        _file.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
