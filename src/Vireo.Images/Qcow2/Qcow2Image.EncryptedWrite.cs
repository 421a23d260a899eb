using System.Buffers;
using Vireo.Images.Crypto;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Data writes, plain or LUKS-encrypted. Encrypted sectors are AES-XTS with the host sector number as the
/// plain64 IV (where qemu's crypt_physical_offset puts them), so a cluster's ciphertext depends on where it
/// lives: copy-on-write merges plaintext (Write.cs) and encrypts it for the new host cluster. Sectors a
/// write covers only in part are read, decrypted and merged first.
/// </summary>
internal sealed partial class Qcow2Image
{
    /// <summary>Encrypted and opened without its key: metadata only.</summary>
    internal bool IsLocked => Header.CryptMethod != 0 && _crypto is null;

    /// <summary>Data writes into an encrypted image need its key: refused before anything changes.</summary>
    private void CheckKey()
    {
        if (Header.CryptMethod != 0 && _crypto is null)
        {
            throw new ImageException($"'{Path}' is encrypted: give its key (--object secret,id=sec0,data=... and encrypt.key-secret=sec0)");
        }
    }

    /// <summary>Refuses compressed clusters in an encrypted image, as qemu does.</summary>
    private void CheckCompressible()
    {
        if (Header.CryptMethod != 0)
        {
            throw new ImageException($"'{Path}': Compression and encryption not supported at the same time");
        }
    }

    /// <summary>Writes guest bytes that start at <paramref name="guest"/> to host offset <paramref name="host"/>.</summary>
    private void WriteData(long guest, long host, ReadOnlySpan<byte> data)
    {
        if (_crypto is null)
        {
            FileIo.Write(_file, data, host);
            return;
        }

        WriteEncrypted(guest, host, data);
    }

    /// <summary>Writes consecutive pieces (whole clusters) from host offset <paramref name="host"/> on.</summary>
    private void WriteData(long guest, long host, List<ReadOnlyMemory<byte>> pieces)
    {
        if (_crypto is null)
        {
            FileIo.Write(_file, pieces, host);
            return;
        }

        foreach (var p in pieces)
        {
            WriteEncrypted(guest, host, p.Span);
            guest += p.Length;
            host += p.Length;
        }
    }

    private void WriteEncrypted(long guest, long host, ReadOnlySpan<byte> data)
    {
        const int S = AesXts.SectorSize;
        const int Piece = 1 << 20;
        var buf = ArrayPool<byte>.Shared.Rent(Math.Min(data.Length, Piece) + (2 * S));
        try
        {
            int done = 0;
            while (done < data.Length)
            {
                long pos = host + done;
                long start = pos & ~(S - 1L);
                int skip = (int)(pos - start);
                int take = Math.Min(data.Length - done, Piece - skip);
                int len = (skip + take + S - 1) & ~(S - 1);
                var span = buf.AsSpan(0, len);
                if (skip != 0)
                {
                    ReadEncrypted(guest + done, start, span[..S]);
                }

                if (((skip + take) & (S - 1)) != 0 && !(skip != 0 && len == S))
                {
                    ReadEncrypted(guest + done, start + len - S, span[(len - S)..]);
                }

                data.Slice(done, take).CopyTo(span[skip..]);
                _crypto!.Encrypt(span, start / S);
                FileIo.Write(_file, span, start);
                done += take;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}
