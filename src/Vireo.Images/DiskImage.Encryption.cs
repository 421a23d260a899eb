using Vireo.Images.Crypto;
using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>LUKS pieces of the front door: header descriptions for info, target checks for convert.</summary>
public static partial class DiskImage
{
    /// <summary>qemu-img info's encrypt block from a parsed LUKS1 header.</summary>
    internal static LuksInfo DescribeLuks(LuksHeader h)
    {
        int xtsKeyBits = h.KeyBytes * 4; // XTS: half the key is the tweak key
        var slots = new LuksSlotInfo[h.Slots.Length];
        for (int i = 0; i < slots.Length; i++)
        {
            var s = h.Slots[i];
            slots[i] = new LuksSlotInfo(s.Active, s.Active ? s.Iterations : null, s.KeyMaterialSector * AesXts.SectorSize, s.Active ? s.Stripes : null);
        }

        int dash = h.CipherMode.IndexOf('-', StringComparison.Ordinal);
        return new LuksInfo
        {
            CipherAlg = $"{h.CipherName}-{xtsKeyBits}",
            CipherMode = dash < 0 ? h.CipherMode : h.CipherMode[..dash],
            IvgenAlg = dash < 0 ? "" : h.CipherMode[(dash + 1)..],
            HashAlg = h.HashSpec,
            Uuid = h.Uuid,
            PayloadOffset = h.PayloadSector * AesXts.SectorSize,
            MasterKeyIterations = h.MasterKeyIterations,
            Slots = slots,
        };
    }

    /// <summary>An existing convert target (-n) must take what convert will write, checked before any write.</summary>
    internal static void CheckWritableTarget(IBlockImage dst, bool compress)
    {
        if (compress && dst is Qcow2Image { Header.CryptMethod: not 0 })
        {
            throw new ImageException($"'{dst.Path}': Compression and encryption not supported at the same time");
        }
    }
}
