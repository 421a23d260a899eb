using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Crypto;

/// <summary>One LUKS1 key slot (48 bytes in the phdr).</summary>
internal readonly record struct LuksKeySlot(bool Active, int Iterations, byte[] Salt, long KeyMaterialSector, int Stripes);

/// <summary>
/// A LUKS1 partition header (big-endian, 592 bytes) as qemu writes it, in a raw luks file or in a qcow2
/// file's encryption header area. Only aes / xts-plain64 is supported, qemu's default; the hash serves PBKDF2,
/// the master key digest and the anti-forensic split.
/// </summary>
internal sealed class LuksHeader
{
    public const int Size = 592;
    private const uint SlotActive = 0x00AC71F3;
    private const int DigestSize = 20;
    internal static ReadOnlySpan<byte> Magic => [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xba, 0xbe];

    public required string CipherName { get; init; }
    public required string CipherMode { get; init; }
    public required string HashSpec { get; init; }
    public required long PayloadSector { get; init; }
    public required int KeyBytes { get; init; }
    public required byte[] MasterKeyDigest { get; init; }
    public required byte[] MasterKeySalt { get; init; }
    public required int MasterKeyIterations { get; init; }
    public required string Uuid { get; init; }
    public required LuksKeySlot[] Slots { get; init; }

    /// <summary>Where the header starts in its file (0 for raw luks).</summary>
    public long Base { get; init; }

    public static LuksHeader Read(SafeFileHandle file, long baseOffset, long areaLength, string path)
    {
        long len = RandomAccess.GetLength(file);
        if (baseOffset < 0 || baseOffset + Size > len || (areaLength != 0 && areaLength < Size))
        {
            throw ImageException.Corrupt(path, $"LUKS header at offset 0x{baseOffset:x} lies past the end of the file");
        }

        var buf = new byte[Size];
        FileIo.ReadExact(file, buf, baseOffset, path, "LUKS header");
        var h = Parse(buf, path, baseOffset);
        foreach (var s in h.Slots)
        {
            long end = baseOffset + s.KeyMaterialSector * 512 + (long)h.KeyBytes * s.Stripes;
            if (s.Active && end > len)
            {
                throw ImageException.Corrupt(path, $"LUKS key material at sector {s.KeyMaterialSector} lies past the end of the file");
            }
        }

        return h;
    }

    public static LuksHeader Parse(ReadOnlySpan<byte> b, string path, long baseOffset = 0)
    {
        if (b.Length < Size || !b[..6].SequenceEqual(Magic))
        {
            throw new ImageException($"'{path}': no LUKS header (bad magic)");
        }

        int version = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
        if (version != 1)
        {
            throw new ImageException($"'{path}': LUKS version {version} is not supported (only LUKS1)");
        }

        string cipher = Str(b.Slice(8, 32));
        string mode = Str(b.Slice(40, 32));
        string hash = Str(b.Slice(72, 32));
        uint payload = BinaryPrimitives.ReadUInt32BigEndian(b[104..]);
        uint keyBytes = BinaryPrimitives.ReadUInt32BigEndian(b[108..]);
        uint mkIter = BinaryPrimitives.ReadUInt32BigEndian(b[164..]);
        // Other ciphers and hashes are described (info, check) but refused when the key is used (EnsureSupported).
        if (keyBytes is < 16 or > 64)
        {
            throw ImageException.Corrupt(path, $"LUKS key size {keyBytes} bytes is invalid");
        }

        if (mkIter == 0 || mkIter > int.MaxValue)
        {
            throw ImageException.Corrupt(path, $"LUKS master key iteration count {mkIter} is invalid");
        }

        var slots = new LuksKeySlot[8];
        for (int i = 0; i < 8; i++)
        {
            var s = b.Slice(208 + (i * 48), 48);
            bool active = BinaryPrimitives.ReadUInt32BigEndian(s) == SlotActive;
            uint iters = BinaryPrimitives.ReadUInt32BigEndian(s[4..]);
            uint km = BinaryPrimitives.ReadUInt32BigEndian(s[40..]);
            uint stripes = BinaryPrimitives.ReadUInt32BigEndian(s[44..]);
            if (active && (iters == 0 || iters > int.MaxValue || stripes == 0 || stripes > 65536))
            {
                throw ImageException.Corrupt(path, $"LUKS key slot {i} has invalid iterations {iters} or stripes {stripes}");
            }

            slots[i] = new LuksKeySlot(active, (int)iters, s.Slice(8, 32).ToArray(), km, (int)stripes);
        }

        return new LuksHeader
        {
            CipherName = cipher,
            CipherMode = mode,
            HashSpec = hash,
            PayloadSector = payload,
            KeyBytes = (int)keyBytes,
            MasterKeyDigest = b.Slice(112, DigestSize).ToArray(),
            MasterKeySalt = b.Slice(132, 32).ToArray(),
            MasterKeyIterations = (int)mkIter,
            Uuid = Str(b.Slice(168, 40)),
            Slots = slots,
            Base = baseOffset,
        };
    }

    /// <summary>
    /// Tries each active slot: PBKDF2 → decrypt key material → AF-merge → check against the master key
    /// digest. Returns the master key, or throws "invalid password".
    /// </summary>
    public byte[] Unlock(SafeFileHandle file, ReadOnlySpan<byte> password, string path)
    {
        EnsureSupported(path);
        var hash = HashOf(HashSpec, path);
        foreach (var s in Slots)
        {
            if (!s.Active)
            {
                continue;
            }

            var slotKey = Rfc2898DeriveBytes.Pbkdf2(password, s.Salt, s.Iterations, hash, KeyBytes);
            int mlen = KeyBytes * s.Stripes;
            var material = new byte[(mlen + 511) & ~511];
            FileIo.ReadExact(file, material, Base + (s.KeyMaterialSector * 512), path, "LUKS key material");
            using (var xts = new AesXts(slotKey))
            {
                xts.Decrypt(material, 0);
            }

            CryptographicOperations.ZeroMemory(slotKey);
            var candidate = AfMerge(material.AsSpan(0, mlen), KeyBytes, s.Stripes, hash);
            CryptographicOperations.ZeroMemory(material);
            var digest = Rfc2898DeriveBytes.Pbkdf2(candidate, MasterKeySalt, MasterKeyIterations, hash, DigestSize);
            if (CryptographicOperations.FixedTimeEquals(digest, MasterKeyDigest))
            {
                return candidate;
            }

            CryptographicOperations.ZeroMemory(candidate);
        }

        throw new ImageException($"invalid password for '{path}'");
    }

    /// <summary>Only aes-xts-plain64 (qemu's default) is decrypted; the hash must be one .NET has.</summary>
    private void EnsureSupported(string path)
    {
        if (CipherName != "aes" || CipherMode != "xts-plain64")
        {
            throw new ImageException($"'{path}': LUKS cipher '{CipherName}-{CipherMode}' is not supported (only aes-xts-plain64)");
        }

        if (KeyBytes is not (32 or 48 or 64))
        {
            throw new ImageException($"'{path}': LUKS key size {KeyBytes} bytes is invalid for aes-xts");
        }

        _ = HashOf(HashSpec, path);
    }

    /// <summary>LUKS1 anti-forensic merge: XOR the stripes together, diffusing after each but the last.</summary>
    internal static byte[] AfMerge(ReadOnlySpan<byte> src, int blockSize, int stripes, HashAlgorithmName hash)
    {
        var block = new byte[blockSize];
        for (int i = 0; i < stripes - 1; i++)
        {
            Xor(block, src.Slice(i * blockSize, blockSize));
            Diffuse(block, hash);
        }

        Xor(block, src.Slice((stripes - 1) * blockSize, blockSize));
        return block;
    }

    internal static void Diffuse(Span<byte> block, HashAlgorithmName hash)
    {
        int ds = hash == HashAlgorithmName.SHA1 ? 20 : hash == HashAlgorithmName.SHA256 ? 32 : hash == HashAlgorithmName.SHA384 ? 48 : 64;
        Span<byte> input = stackalloc byte[4 + ds];
        Span<byte> outp = stackalloc byte[64];
        for (int i = 0, off = 0; off < block.Length; i++, off += ds)
        {
            int n = Math.Min(ds, block.Length - off);
            BinaryPrimitives.WriteInt32BigEndian(input, i);
            block.Slice(off, n).CopyTo(input[4..]);
            int w = HashData(hash, input[..(4 + n)], outp);
            outp[..Math.Min(n, w)].CopyTo(block[off..]);
        }
    }

    private static int HashData(HashAlgorithmName hash, ReadOnlySpan<byte> src, Span<byte> dst) =>
        hash == HashAlgorithmName.SHA1 ? SHA1.HashData(src, dst)
        : hash == HashAlgorithmName.SHA256 ? SHA256.HashData(src, dst)
        : hash == HashAlgorithmName.SHA384 ? SHA384.HashData(src, dst)
        : SHA512.HashData(src, dst);

    private static HashAlgorithmName HashOf(string spec, string path) => spec switch
    {
        "sha1" => HashAlgorithmName.SHA1,
        "sha256" => HashAlgorithmName.SHA256,
        "sha384" => HashAlgorithmName.SHA384,
        "sha512" => HashAlgorithmName.SHA512,
        _ => throw new ImageException($"'{path}': LUKS hash '{spec}' is not supported (sha1, sha256, sha384, sha512)"),
    };

    private static void Xor(Span<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            a[i] ^= b[i];
        }
    }

    private static string Str(ReadOnlySpan<byte> b)
    {
        int z = b.IndexOf((byte)0);
        return Encoding.ASCII.GetString(z < 0 ? b : b[..z]);
    }
}
