using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Vireo.Images.Crypto;

/// <summary>
/// AES-XTS over 512-byte sectors with plain64 IVs (the sector number, little-endian, zero-padded to 16
/// bytes), built on .NET's AES-ECB. Sectors are whole numbers of 16-byte blocks, so no ciphertext stealing.
/// </summary>
internal sealed class AesXts : IDisposable
{
    public const int SectorSize = 512;
    private const int BlocksPerSector = SectorSize / 16;
    private readonly Aes _data;
    private readonly Aes _tweak;

    public AesXts(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (32 or 48 or 64))
        {
            throw new ImageException($"AES-XTS key length {key.Length} is not 32, 48 or 64 bytes");
        }

        int half = key.Length / 2;
        _data = Aes.Create();
        _data.Key = key[..half].ToArray();
        _tweak = Aes.Create();
        _tweak.Key = key[half..].ToArray();
    }

    /// <summary>Decrypts whole sectors in place; the first has number <paramref name="sector"/>.</summary>
    public void Decrypt(Span<byte> data, long sector) => Transform(data, sector, encrypt: false);

    /// <summary>Encrypts whole sectors in place; the first has number <paramref name="sector"/>.</summary>
    public void Encrypt(Span<byte> data, long sector) => Transform(data, sector, encrypt: true);

    private void Transform(Span<byte> data, long sector, bool encrypt)
    {
        if ((data.Length % SectorSize) != 0)
        {
            throw new ArgumentException("length is not a multiple of the sector size", nameof(data));
        }

        // One tweak per 16-byte block, computed for a batch of sectors, so each AES pass is one ECB call.
        const int Batch = 128;
        int tlen = Math.Min(data.Length, Batch * SectorSize);
        var tweaks = ArrayPool<byte>.Shared.Rent(tlen);
        var ivs = ArrayPool<byte>.Shared.Rent(Batch * 16);
        try
        {
            TransformBatches(data, sector, encrypt, tweaks.AsSpan(0, tlen), ivs);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tweaks);
            ArrayPool<byte>.Shared.Return(ivs);
        }
    }

    private void TransformBatches(Span<byte> data, long sector, bool encrypt, Span<byte> tweaks, byte[] ivs)
    {
        for (int off = 0; off < data.Length; off += tweaks.Length)
        {
            int len = Math.Min(tweaks.Length, data.Length - off);
            int n = len / SectorSize;
            var iv = ivs.AsSpan(0, n * 16);
            iv.Clear();
            for (int s = 0; s < n; s++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(iv[(s * 16)..], sector + (off / SectorSize) + s);
            }

            _tweak.EncryptEcb(iv, iv, PaddingMode.None);
            var t = tweaks[..len];
            for (int s = 0; s < n; s++)
            {
                var st = t.Slice(s * SectorSize, SectorSize);
                iv.Slice(s * 16, 16).CopyTo(st);
                for (int b = 1; b < BlocksPerSector; b++)
                {
                    MulX(st.Slice((b - 1) * 16, 16), st.Slice(b * 16, 16));
                }
            }

            var chunk = data.Slice(off, len);
            Xor(chunk, t);
            if (encrypt)
            {
                _data.EncryptEcb(chunk, chunk, PaddingMode.None);
            }
            else
            {
                _data.DecryptEcb(chunk, chunk, PaddingMode.None);
            }

            Xor(chunk, t);
        }
    }

    // Multiplication by x in GF(2^128), little-endian as XTS defines it.
    private static void MulX(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        ulong lo = BinaryPrimitives.ReadUInt64LittleEndian(src);
        ulong hi = BinaryPrimitives.ReadUInt64LittleEndian(src[8..]);
        ulong carry = hi >> 63;
        hi = (hi << 1) | (lo >> 63);
        lo = (lo << 1) ^ (carry * 0x87);
        BinaryPrimitives.WriteUInt64LittleEndian(dst, lo);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[8..], hi);
    }

    private static void Xor(Span<byte> a, ReadOnlySpan<byte> b)
    {
        var av = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(a);
        var bv = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(b);
        for (int i = 0; i < av.Length; i++)
        {
            av[i] ^= bv[i];
        }
    }

    public void Dispose()
    {
        _data.Dispose();
        _tweak.Dispose();
    }
}
