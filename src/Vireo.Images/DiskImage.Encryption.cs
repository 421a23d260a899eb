using Vireo.Images.Crypto;
using Vireo.Images.Qcow2;

namespace Vireo.Images;

/// <summary>LUKS pieces of the front door: header descriptions for info, target checks for convert.</summary>
public static partial class DiskImage
{
    /// <summary>qemu-img info's encrypt block from a parsed LUKS1 header.</summary>
    internal static LuksInfo DescribeLuks(LuksHeader h)
    {
        // "xts-plain64", "cbc-essiv:sha256": mode, IV generator, the generator's hash.
        string[] mode = h.CipherMode.Split('-', 2);
        string[] ivgen = mode.Length > 1 ? mode[1].Split(':', 2) : [""];
        int keyBits = mode[0] == "xts" ? h.KeyBytes * 4 : h.KeyBytes * 8; // XTS: half the key is the tweak key
        var slots = new LuksSlotInfo[h.Slots.Length];
        for (int i = 0; i < slots.Length; i++)
        {
            var s = h.Slots[i];
            slots[i] = new LuksSlotInfo(s.Active, s.Active ? s.Iterations : null, s.KeyMaterialSector * AesXts.SectorSize, s.Active ? s.Stripes : null);
        }

        return new LuksInfo
        {
            CipherAlg = $"{h.CipherName}-{keyBits}",
            CipherMode = mode[0],
            IvgenAlg = ivgen[0],
            IvgenHashAlg = ivgen.Length > 1 ? ivgen[1] : null,
            HashAlg = h.HashSpec,
            Uuid = h.Uuid,
            PayloadOffset = h.PayloadSector * AesXts.SectorSize,
            MasterKeyIterations = h.MasterKeyIterations,
            Slots = slots,
        };
    }

    /// <summary>Options for the layers under the top one: the backing key when one was given.</summary>
    internal static ImageOpenOptions BelowTop(ImageOpenOptions o) =>
        o.BackingPassword is null ? o with { NoBacking = false } : o with { Password = o.BackingPassword, NoBacking = false };

    /// <summary>
    /// Chain operations read and write data of every layer they touch: an encrypted layer without its key
    /// is refused before anything changes, not half way through.
    /// </summary>
    internal static void RefuseLocked(params IBlockImage?[] images)
    {
        foreach (var top in images)
        {
            for (var i = top; i is not null; i = i.Backing)
            {
                if (i is Qcow2Image { IsLocked: true } or LuksImage { IsLocked: true })
                {
                    throw new ImageException($"'{i.Path}' is encrypted: give its key (--object secret,id=sec0,data=... and encrypt.key-secret=sec0)");
                }
            }
        }
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
