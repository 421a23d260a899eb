using System.Buffers.Binary;
using System.Text;

namespace Vireo.Images.Qcow2;

/// <summary>One entry of the snapshot table (spec "Snapshots").</summary>
internal sealed record Qcow2Snapshot
{
    public long L1Offset { get; init; }
    public int L1Size { get; init; }
    public required string Id { get; init; }
    public required string Name { get; init; }
    public long DateSeconds { get; init; }
    public int DateNanoseconds { get; init; }
    public long VmClockNanoseconds { get; init; }
    public long VmStateSize { get; init; }
    public long? DiskSize { get; init; }
    public long? Icount { get; init; }
    public byte[] ExtraData { get; init; } = [];

    public SnapshotInfo ToInfo() => new(Id, Name, VmStateSize, DateSeconds, DateNanoseconds, VmClockNanoseconds, Icount, DiskSize);

    public static List<Qcow2Snapshot> ReadTable(Qcow2Image img, long fileLength)
    {
        var h = img.Header;
        var list = new List<Qcow2Snapshot>();
        if (h.SnapshotCount == 0)
        {
            return list;
        }

        if (h.SnapshotsOffset == 0 || h.SnapshotsOffset >= fileLength)
        {
            throw ImageException.Corrupt(img.Path, $"snapshot table offset 0x{h.SnapshotsOffset:x} is invalid");
        }

        // Bounded: each entry is at most 40 + 64 KiB extra + 2 × 64 KiB of strings; cap the table read at 64 MiB.
        long maxLen = Math.Min(fileLength - h.SnapshotsOffset, 64L * 1024 * 1024);
        var buf = new byte[maxLen];
        int n = FileIo.ReadAtMost(img.File, buf, h.SnapshotsOffset);
        int pos = 0;
        for (int i = 0; i < h.SnapshotCount; i++)
        {
            if (pos + 40 > n)
            {
                throw ImageException.Corrupt(img.Path, $"snapshot table entry {i} runs past the end of the file");
            }

            var s = buf.AsSpan(pos);
            long l1Off = (long)BinaryPrimitives.ReadUInt64BigEndian(s);
            uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(s[8..]);
            int idLen = BinaryPrimitives.ReadUInt16BigEndian(s[12..]);
            int nameLen = BinaryPrimitives.ReadUInt16BigEndian(s[14..]);
            uint extra = BinaryPrimitives.ReadUInt32BigEndian(s[36..]);
            if (extra > 1024 || pos + 40 + extra + idLen + nameLen > n)
            {
                throw ImageException.Corrupt(img.Path, $"snapshot table entry {i} is malformed");
            }

            if ((l1Off & (img.ClusterSize - 1)) != 0 || (long)l1Size * 8 > Qcow2Header.MaxL1Bytes || l1Off + ((long)l1Size * 8) > fileLength)
            {
                throw ImageException.Corrupt(img.Path, $"snapshot {i} L1 table (offset 0x{l1Off:x}, {l1Size} entries) is invalid");
            }

            var ex = s.Slice(40, (int)extra);
            long vmState = BinaryPrimitives.ReadUInt32BigEndian(s[32..]);
            long? disk = null;
            long? icount = null;
            if (extra >= 8)
            {
                vmState = (long)BinaryPrimitives.ReadUInt64BigEndian(ex);
            }

            if (extra >= 16)
            {
                disk = (long)BinaryPrimitives.ReadUInt64BigEndian(ex[8..]);
            }

            if (extra >= 24)
            {
                icount = (long)BinaryPrimitives.ReadUInt64BigEndian(ex[16..]);
            }

            int strPos = 40 + (int)extra;
            list.Add(new Qcow2Snapshot
            {
                L1Offset = l1Off,
                L1Size = (int)l1Size,
                DateSeconds = BinaryPrimitives.ReadUInt32BigEndian(s[16..]),
                DateNanoseconds = (int)BinaryPrimitives.ReadUInt32BigEndian(s[20..]),
                VmClockNanoseconds = (long)BinaryPrimitives.ReadUInt64BigEndian(s[24..]),
                VmStateSize = vmState,
                DiskSize = disk,
                Icount = icount,
                ExtraData = ex.ToArray(),
                Id = Encoding.UTF8.GetString(s.Slice(strPos, idLen)),
                Name = Encoding.UTF8.GetString(s.Slice(strPos + idLen, nameLen)),
            });
            pos += (40 + (int)extra + idLen + nameLen + 7) & ~7;
        }

        return list;
    }

    public static byte[] Serialize(IReadOnlyList<Qcow2Snapshot> snaps)
    {
        using var ms = new MemoryStream();
        Span<byte> fixedPart = stackalloc byte[40];
        foreach (var s in snaps)
        {
            var id = Encoding.UTF8.GetBytes(s.Id);
            var name = Encoding.UTF8.GetBytes(s.Name);
            var extra = new byte[Math.Max(s.ExtraData.Length, 24)];
            s.ExtraData.CopyTo(extra, 0);
            BinaryPrimitives.WriteUInt64BigEndian(extra, (ulong)s.VmStateSize);
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(8), (ulong)(s.DiskSize ?? 0));
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(16), (ulong)(s.Icount ?? -1));
            fixedPart.Clear();
            BinaryPrimitives.WriteUInt64BigEndian(fixedPart, (ulong)s.L1Offset);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[8..], (uint)s.L1Size);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[12..], (ushort)id.Length);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[14..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[16..], (uint)s.DateSeconds);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[20..], (uint)s.DateNanoseconds);
            BinaryPrimitives.WriteUInt64BigEndian(fixedPart[24..], (ulong)s.VmClockNanoseconds);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[32..], (uint)Math.Min(s.VmStateSize, uint.MaxValue));
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[36..], (uint)extra.Length);
            ms.Write(fixedPart);
            ms.Write(extra);
            ms.Write(id);
            ms.Write(name);
            while (ms.Length % 8 != 0)
            {
                ms.WriteByte(0);
            }
        }

        return ms.ToArray();
    }
}
