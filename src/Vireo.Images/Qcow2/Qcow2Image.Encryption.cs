using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Vireo.Images.Crypto;

namespace Vireo.Images.Qcow2;

/// <summary>
/// qcow2 LUKS encryption (crypt_method 2): the LUKS1 header lives in the area the 0x0537be77 extension
/// names; data clusters are AES-XTS sectors whose plain64 IV is the *host* sector number (qemu's
/// crypt_physical_offset for LUKS). Writes are in Qcow2Image.EncryptedWrite.
/// </summary>
internal sealed partial class Qcow2Image
{
    private AesXts? _crypto;

    internal LuksHeader? Luks { get; private set; }

    private static LuksHeader? OpenEncryption(string path, SafeFileHandle file, Qcow2Header header)
    {
        if (header.CryptMethod == 0)
        {
            return null;
        }

        if (header.CryptMethod == 1)
        {
            throw new ImageException($"'{path}': legacy AES encryption (encrypt.format=aes) is not supported; only LUKS");
        }

        if (header.CryptMethod != 2)
        {
            throw ImageException.Corrupt(path, $"unknown crypt_method {header.CryptMethod}");
        }

        var ext = header.OtherExtensions.FirstOrDefault(e => e.Type == Qcow2Header.ExtEncryption);
        if (ext is null || ext.Data.Length < 16)
        {
            throw ImageException.Corrupt(path, "LUKS-encrypted image has no full-disk encryption header extension");
        }

        long off = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(ext.Data), long.MaxValue);
        long len = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(8)), long.MaxValue);
        return LuksHeader.Read(file, off, len, path);
    }

    private void UnlockEncryption(LuksHeader? luks, byte[]? password)
    {
        Luks = luks;
        if (luks is not null && password is not null)
        {
            var key = luks.Unlock(_file, password, Path);
            _crypto = new AesXts(key);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Reads host bytes covering whole sectors and decrypts them; <paramref name="host"/> may be unaligned.</summary>
    private void ReadEncrypted(long guest, long host, Span<byte> dst)
    {
        if (_crypto is null)
        {
            throw new ImageException($"'{Path}' is encrypted: give its key (--object secret,id=sec0,data=... and encrypt.key-secret=sec0)");
        }

        if ((host & (AesXts.SectorSize - 1)) == 0 && (dst.Length & (AesXts.SectorSize - 1)) == 0)
        {
            // Aligned (convert's case): decrypt in place, no bounce buffer.
            if (FileIo.ReadAtMost(_dataFile ?? _file, dst, host) != dst.Length)
            {
                throw ImageException.Corrupt(Path, $"data for guest offset {guest} at host offset 0x{host:x} lies past the end of the file");
            }

            _crypto.Decrypt(dst, host / AesXts.SectorSize);
            return;
        }

        long start = host & ~(AesXts.SectorSize - 1L);
        long end = (host + dst.Length + AesXts.SectorSize - 1) & ~(AesXts.SectorSize - 1L);
        int len = (int)(end - start);
        var buf = ArrayPool<byte>.Shared.Rent(len);
        try
        {
            var span = buf.AsSpan(0, len);
            if (FileIo.ReadAtMost(_dataFile ?? _file, span, start) != len)
            {
                throw ImageException.Corrupt(Path, $"data for guest offset {guest} at host offset 0x{host:x} lies past the end of the file");
            }

            _crypto.Decrypt(span, start / AesXts.SectorSize);
            span.Slice((int)(host - start), dst.Length).CopyTo(dst);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}
