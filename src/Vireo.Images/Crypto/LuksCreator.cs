using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Vireo.Images.Crypto;

/// <summary>
/// Writes a raw LUKS1 file as qemu lays it out: a 4 KiB header area, then eight key material areas of
/// 64 × 4000 bytes rounded to 4 KiB, then the payload. Slot 0 holds the password; aes-256-xts-plain64, sha256.
/// </summary>
internal static class LuksCreator
{
    private const int KeyBytes = 64;
    private const int Stripes = 4000;
    private const int Align = 4096;

    public static void Create(string path, long size, byte[] password, int iterTimeMs)
    {
        var hash = HashAlgorithmName.SHA256;
        var masterKey = RandomNumberGenerator.GetBytes(KeyBytes);
        var mkSalt = RandomNumberGenerator.GetBytes(32);
        var slotSalt = RandomNumberGenerator.GetBytes(32);
        int slotIters = Calibrate(iterTimeMs);
        int mkIters = Math.Max(1000, slotIters / 8);
        var digest = Rfc2898DeriveBytes.Pbkdf2(masterKey, mkSalt, mkIters, hash, 20);

        int splitLen = KeyBytes * Stripes;
        int stride = (splitLen + Align - 1) / Align * Align;
        long payload = Align + (8L * stride);

        // Anti-forensic split: random stripes, the last one chosen so the merge yields the master key.
        var split = RandomNumberGenerator.GetBytes(splitLen);
        var block = new byte[KeyBytes];
        for (int i = 0; i < Stripes - 1; i++)
        {
            Xor(block, split.AsSpan(i * KeyBytes, KeyBytes));
            LuksHeader.Diffuse(block, hash);
        }

        for (int j = 0; j < KeyBytes; j++)
        {
            split[((Stripes - 1) * KeyBytes) + j] = (byte)(block[j] ^ masterKey[j]);
        }

        var material = new byte[(splitLen + 511) & ~511];
        split.CopyTo(material, 0);
        var slotKey = Rfc2898DeriveBytes.Pbkdf2(password, slotSalt, slotIters, hash, KeyBytes);
        using (var xts = new AesXts(slotKey))
        {
            xts.Encrypt(material, 0);
        }

        CryptographicOperations.ZeroMemory(slotKey);
        CryptographicOperations.ZeroMemory(masterKey);
        CryptographicOperations.ZeroMemory(split);

        var h = new byte[Align];
        LuksHeader.Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), 1);
        Encoding.ASCII.GetBytes("aes").CopyTo(h, 8);
        Encoding.ASCII.GetBytes("xts-plain64").CopyTo(h, 40);
        Encoding.ASCII.GetBytes("sha256").CopyTo(h, 72);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(104), (uint)(payload / 512));
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(108), KeyBytes);
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

        using var fs = File.Open(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.ReadWrite });
        fs.SetLength(payload + size);
        RandomAccess.Write(fs.SafeFileHandle, h, 0);
        RandomAccess.Write(fs.SafeFileHandle, material, Align);
        RandomAccess.FlushToDisk(fs.SafeFileHandle);
    }

    /// <summary>PBKDF2 iterations that take about <paramref name="ms"/> here (at least 1000, the LUKS1 minimum).</summary>
    private static int Calibrate(int ms)
    {
        const int Probe = 20000;
        var sw = Stopwatch.StartNew();
        _ = Rfc2898DeriveBytes.Pbkdf2("probe"u8, new byte[32], Probe, HashAlgorithmName.SHA256, 32);
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
