using System.Buffers.Binary;
using System.Text;

namespace Vireo.Net.Netlink;

/// <summary>
/// Builds one netlink request: the 16-byte nlmsghdr, a fixed family header, then 4-byte aligned rtattrs that may nest.
/// Netlink is host-endian; Vireo runs on little-endian hosts (x86-64, arm64), hence the LittleEndian writes.
/// </summary>
internal sealed class NetlinkWriter
{
    private byte[] _buffer = new byte[512];
    private int _length;

    public NetlinkWriter(ushort type, ushort flags)
    {
        _length = Nl.HeaderSize;
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(6), flags);
    }

    public int Length => _length;

    /// <summary>The finished message, with nlmsg_len and the sequence number filled in.</summary>
    public ReadOnlySpan<byte> Finish(uint sequence)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), sequence);
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>Reserves <paramref name="size"/> zeroed bytes (a family header such as ifinfomsg) and returns them to fill.</summary>
    public Span<byte> Reserve(int size)
    {
        int aligned = Align(size);
        Ensure(aligned);
        Span<byte> span = _buffer.AsSpan(_length, aligned);
        span.Clear();
        _length += aligned;
        return span[..size];
    }

    public void Attr(ushort type, ReadOnlySpan<byte> value)
    {
        int start = _length;
        Span<byte> dst = Reserve(4 + value.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(dst, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(dst[2..], type);
        value.CopyTo(dst[4..]);
        _ = start;
    }

    public void AttrU8(ushort type, byte value) => Attr(type, [value]);

    public void AttrU16(ushort type, ushort value)
    {
        Span<byte> v = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(v, value);
        Attr(type, v);
    }

    public void AttrU32(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, value);
        Attr(type, v);
    }

    public void AttrU64(ushort type, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, value);
        Attr(type, v);
    }

    /// <summary>A NUL-terminated string attribute, as the kernel expects for names and kinds.</summary>
    public void AttrString(ushort type, string value)
    {
        Span<byte> v = stackalloc byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, v);
        v[^1] = 0;
        Attr(type, v);
    }

    /// <summary>Opens a nested attribute; pass the returned offset to <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        Span<byte> dst = Reserve(4);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[2..], (ushort)(type | Nl.NLA_F_NESTED));
        return start;
    }

    /// <summary>Like <see cref="BeginNested"/> but without NLA_F_NESTED, for old attributes (IFLA_LINKINFO's peer, tc options) the kernel parses either way.</summary>
    public int BeginContainer(ushort type)
    {
        int start = _length;
        Span<byte> dst = Reserve(4);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[2..], type);
        return start;
    }

    public void EndNested(int start) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)(_length - start));

    public static int Align(int size) => (size + 3) & ~3;

    private void Ensure(int extra)
    {
        if (_length + extra > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
        }
    }
}
