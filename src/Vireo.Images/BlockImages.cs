using Vireo.Images.Qcow2;
using Vireo.Images.Raw;

namespace Vireo.Images;

/// <summary>Synchronous shortcuts for the engine's own image types (their async methods complete synchronously).</summary>
internal static class BlockImages
{
    public static void ReadSync(IBlockImage img, long offset, Span<byte> dst)
    {
        switch (img)
        {
            case Qcow2Image q:
                q.Read(offset, dst);
                break;
            case RawImage r:
                r.Read(offset, dst);
                break;
            case Crypto.LuksImage l:
                l.Read(offset, dst);
                break;
            default:
                var tmp = new byte[dst.Length];
                img.ReadAsync(offset, tmp).AsTask().GetAwaiter().GetResult();
                tmp.CopyTo(dst);
                break;
        }
    }
}
