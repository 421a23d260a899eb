using System.Buffers.Binary;
using System.Text;

namespace Vireo.Net.Netlink;

/// <summary>Walks a run of rtattrs; malformed lengths end the walk instead of reading past the buffer.</summary>
internal ref struct NetlinkAttributes
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributes(ReadOnlySpan<byte> attributes)
    {
        _rest = attributes;
        Type = 0;
        Value = default;
    }

    /// <summary>The attribute type with the nested/byte-order flags removed.</summary>
    public ushort Type { get; private set; }

    public ReadOnlySpan<byte> Value { get; private set; }

    public readonly NetlinkAttributes GetEnumerator() => this;

    public readonly NetlinkAttributes Current => this;

    public bool MoveNext()
    {
        if (_rest.Length < 4)
        {
            return false;
        }
        int len = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (len < 4 || len > _rest.Length)
        {
            return false;
        }
        Type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & Nl.NLA_TYPE_MASK);
        Value = _rest[4..len];
        int next = NetlinkWriter.Align(len);
        _rest = next >= _rest.Length ? default : _rest[next..];
        return true;
    }

    public readonly NetlinkAttributes Nested() => new(Value);

    public readonly uint U32 => Value.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Value) : 0;

    public readonly ushort U16 => Value.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(Value) : (ushort)0;

    public readonly byte U8 => Value.Length >= 1 ? Value[0] : (byte)0;

    public readonly string String
    {
        get
        {
            ReadOnlySpan<byte> v = Value;
            int nul = v.IndexOf((byte)0);
            return Encoding.UTF8.GetString(nul >= 0 ? v[..nul] : v);
        }
    }
}
