using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Crypto;

/// <summary>
/// What a new LUKS1 header holds, as qemu's <c>luks</c> and <c>encrypt.*</c> create options name it:
/// the password for slot 0, the AES key size (cipher-alg aes-128/192/256; mode xts, IV plain64, the only
/// ones supported), the hash (PBKDF2, digest, anti-forensic split) and the time PBKDF2 should take.
/// </summary>
internal readonly record struct LuksParams(byte[] Password, int KeyBytes, string Hash, int IterTimeMs)
{
    public static LuksParams From(ImageCreateOptions o, byte[] password) =>
        new(password, KeyBytesOf(o.LuksCipher), HashOf(o.LuksHash), o.LuksIterTimeMs);

    /// <summary>XTS takes two AES keys: aes-256 is a 64-byte key.</summary>
    public static int KeyBytesOf(string cipher) => cipher switch
    {
        "aes-128" => 32,
        "aes-192" => 48,
        "aes-256" => 64,
        _ => throw new ImageException($"cipher-alg '{cipher}' is not supported (aes-128, aes-192, aes-256)"),
    };

    private static string HashOf(string hash) => hash is "sha1" or "sha256" or "sha384" or "sha512"
        ? hash
        : throw new ImageException($"hash-alg '{hash}' is not supported (sha1, sha256, sha384, sha512)");
}

/// <summary>
/// Writes a LUKS1 header and slot 0's key material into a region of a file, laid out as qemu does: a
/// 4 KiB header area, then eight key material areas of key-bytes × 4000 stripes rounded to 4 KiB, then the
/// payload. Raw <c>luks</c> files put the region at offset 0 and the payload after it; qcow2 puts it in
/// clusters its encryption header extension names (with no payload: data lives in qcow2 clusters).
/// </summary>
internal static class LuksWriter
{
    private const int Stripes = 4000;
    private const int Align = 4096;

    /// <summary>Bytes of header and key material: the payload offset, and the length of qcow2's header area.</summary>
    public static long AreaLength(int keyBytes) => Align + (8L * SlotStride(keyBytes));

    private static int SlotStride(int keyBytes) => ((keyBytes * Stripes) + Align - 1) / Align * Align;

    /// <summary>Creates a raw LUKS file of <paramref name="size"/> payload bytes.</summary>
    public static void CreateRaw(string path, long size, LuksParams p)
    {
        using var fs = File.Open(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.ReadWrite });
        fs.SetLength(AreaLength(p.KeyBytes) + size);
        Write(fs.SafeFileHandle, 0, p);
        RandomAccess.FlushToDisk(fs.SafeFileHandle);
    }

    /// <summary>
    /// Writes header and slot 0 at <paramref name="baseOffset"/> (key material offsets count from there):
    /// a random master key, AF-split into slot 0 under PBKDF2(password), its digest in the header.
    /// </summary>
    public static void Write(SafeFileHandle file, long baseOffset, LuksParams p)
    {
        var hash = new HashAlgorithmName(p.Hash.ToUpperInvariant());
        int keyBytes = p.KeyBytes;
        var masterKey = RandomNumberGenerator.GetBytes(keyBytes);
        var mkSalt = RandomNumberGenerator.GetBytes(32);
        var slotSalt = RandomNumberGenerator.GetBytes(32);
        int slotIters = Calibrate(p.IterTimeMs, hash);
        int mkIters = Math.Max(1000, slotIters / 8);
        var digest = Rfc2898DeriveBytes.Pbkdf2(masterKey, mkSalt, mkIters, hash, 20);
        int stride = SlotStride(keyBytes);

        var material = new byte[((keyBytes * Stripes) + 511) & ~511];
        AfSplit(masterKey, material.AsSpan(0, keyBytes * Stripes), hash);
        var slotKey = Rfc2898DeriveBytes.Pbkdf2(p.Password, slotSalt, slotIters, hash, keyBytes);
        using (var xts = new AesXts(slotKey))
        {
            xts.Encrypt(material, 0);
        }

        CryptographicOperations.ZeroMemory(slotKey);
        CryptographicOperations.ZeroMemory(masterKey);

        var h = new byte[Align];
        LuksHeader.Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), 1);
        Encoding.ASCII.GetBytes("aes").CopyTo(h, 8);
        Encoding.ASCII.GetBytes("xts-plain64").CopyTo(h, 40);
        Encoding.ASCII.GetBytes(p.Hash).CopyTo(h, 72);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(104), (uint)(AreaLength(keyBytes) / 512));
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(108), (uint)keyBytes);
        digest.CopyTo(h, 112);
        mkSalt.CopyTo(h, 132);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(164), (uint)mkIters);
        Encoding.ASCII.GetBytes(Guid.NewGuid().ToString()).CopyTo(h, 168);
        for (int i = 0; i < 8; i++)
        {
            var s = h.AsSpan(208 + (i * 48), 48);
            BinaryPrimitives.WriteUInt32BigEndian(s, i == 0 ? 0x00AC71F3u : 0x0000DEADu);
            BinaryPrimitives.WriteUInt32BigEndian(s[4..], i == 0 ? (uint)slotIters : 0);
            if (i == 0)
            {
                slotSalt.CopyTo(s[8..]);
            }

            BinaryPrimitives.WriteUInt32BigEndian(s[40..], (uint)((Align + ((long)i * stride)) / 512));
            BinaryPrimitives.WriteUInt32BigEndian(s[44..], Stripes);
        }

        // Key material first, header last: a header is only ever found with its slot complete.
        FileIo.Write(file, material, baseOffset + Align);
        CryptographicOperations.ZeroMemory(material);
        FileIo.Write(file, h, baseOffset);
    }

    /// <summary>LUKS1 anti-forensic split: random stripes, the last chosen so the merge yields the key.</summary>
    private static void AfSplit(ReadOnlySpan<byte> key, Span<byte> dst, HashAlgorithmName hash)
    {
        int n = key.Length;
        RandomNumberGenerator.Fill(dst);
        Span<byte> block = stackalloc byte[n];
        block.Clear();
        for (int i = 0; i < Stripes - 1; i++)
        {
            Xor(block, dst.Slice(i * n, n));
            LuksHeader.Diffuse(block, hash);
        }

        var last = dst.Slice((Stripes - 1) * n, n);
        for (int j = 0; j < n; j++)
        {
            last[j] = (byte)(block[j] ^ key[j]);
        }

        CryptographicOperations.ZeroMemory(block);
    }

    /// <summary>PBKDF2 iterations that take about <paramref name="ms"/> here (at least 1000, the LUKS1 minimum).</summary>
    private static int Calibrate(int ms, HashAlgorithmName hash)
    {
        const int Probe = 20000;
        var sw = Stopwatch.StartNew();
        _ = Rfc2898DeriveBytes.Pbkdf2("probe"u8, new byte[32], Probe, hash, 32);
        double perMs = Probe / Math.Max(sw.Elapsed.TotalMilliseconds, 0.01);
        return (int)Math.Clamp(perMs * ms, 1000, int.MaxValue / 2);
    }

    private static void Xor(Span<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            a[i] ^= b[i];
        }
    }
}
