using System.Buffers.Binary;
using System.Text;

namespace Vireo.Images.Qcow2;

/// <summary>
/// Persistent dirty bitmaps (spec "Bitmaps"): Vireo does not track them, but keeps the extension, directory
/// and tables intact, lists them, and counts their clusters in check.
/// </summary>
internal static class Qcow2Bitmaps
{
    public static IReadOnlyList<string> Names(Qcow2Image img)
    {
        var names = new List<string>();
        foreach (var ext in img.Header.OtherExtensions)
        {
            if (ext.Type != Qcow2Header.ExtBitmaps || ext.Data.Length < 24)
            {
                continue;
            }

            uint nb = BinaryPrimitives.ReadUInt32BigEndian(ext.Data);
            long dirSize = (long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(8));
            long dirOff = (long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(16));
            if (dirSize > 1 << 24 || dirSize < 0)
            {
                return names;
            }

            var dir = new byte[dirSize];
            if (FileIo.ReadAtMost(img.File, dir, dirOff) != dir.Length)
            {
                return names;
            }

            int pos = 0;
            for (int i = 0; i < nb && pos + 24 <= dir.Length; i++)
            {
                int nameSize = BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(pos + 18));
                uint extra = BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(pos + 20));
                if (pos + 24 + extra + nameSize > dir.Length)
                {
                    break;
                }

                names.Add(Encoding.UTF8.GetString(dir, pos + 24 + (int)extra, nameSize));
                pos += (int)((24 + extra + nameSize + 7) & ~7u);
            }
        }

        return names;
    }
}
