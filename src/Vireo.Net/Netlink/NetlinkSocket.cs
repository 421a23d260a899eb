using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Vireo.Model;
using Vireo.Net.Native;

namespace Vireo.Net.Netlink;

/// <summary>Receives one reply message of a dump: its type and the bytes after the nlmsghdr.</summary>
internal delegate void NetlinkMessageHandler(ushort type, ReadOnlySpan<byte> payload);

/// <summary>
/// An AF_NETLINK/NETLINK_ROUTE socket. A netlink socket belongs to the network namespace of the thread that
/// created it, for its whole life — that is how <see cref="Namespaces.NetNamespace"/> targets a namespace.
/// One request at a time (a lock), each with its own sequence number; replies for other numbers are dropped.
/// </summary>
internal sealed unsafe class NetlinkSocket : IDisposable
{
    private const int ReceiveBufferSize = 64 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Lock _lock = new();
    private readonly byte[] _receive = new byte[ReceiveBufferSize];
    private uint _sequence;

    private NetlinkSocket(SafeFileHandle handle) => _handle = handle;

    /// <summary>Opens a socket in the calling thread's network namespace.</summary>
    public static NetlinkSocket Open()
    {
        int fd = LibC.Socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.NETLINK_ROUTE);
        if (fd < 0)
        {
            throw new VireoException(ErrorKind.HostUnavailable,
                $"cannot open an rtnetlink socket: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            int one = 1;
            // Extended acks carry the kernel's own words ("Unknown device type"); strict checking makes filtered dumps honest.
            _ = LibC.SetSockOpt(fd, LibC.SOL_NETLINK, LibC.NETLINK_EXT_ACK, &one, sizeof(int));
            _ = LibC.SetSockOpt(fd, LibC.SOL_NETLINK, LibC.NETLINK_GET_STRICT_CHK, &one, sizeof(int));
            int size = 1024 * 1024;
            _ = LibC.SetSockOpt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, &size, sizeof(int));
            var addr = new LibC.SockAddrNl { Family = LibC.AF_NETLINK };
            if (LibC.Bind(fd, &addr, sizeof(LibC.SockAddrNl)) != 0)
            {
                throw new VireoException(ErrorKind.HostUnavailable,
                    $"cannot bind an rtnetlink socket: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            return new NetlinkSocket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>
    /// Sends a request with NLM_F_ACK and waits for the kernel's verdict; an error becomes a VireoException starting
    /// with <paramref name="what"/>. Replies before the ack (a GET's answer) go to <paramref name="handler"/>.
    /// </summary>
    public void Request(NetlinkWriter message, string what, NetlinkMessageHandler? handler = null)
    {
        lock (_lock)
        {
            uint seq = Send(message, Nl.F_ACK);
            while (true)
            {
                int received = Receive(what);
                ReadOnlySpan<byte> data = _receive.AsSpan(0, received);
                foreach (var (type, hdrSeq, _, payload, whole) in Messages(data))
                {
                    if (hdrSeq != seq)
                    {
                        continue;
                    }
                    if (type == Nl.NLMSG_ERROR)
                    {
                        ThrowIfError(payload, whole, what);
                        return;
                    }
                    handler?.Invoke(type, payload);
                }
            }
        }
    }

    /// <summary>Sends a dump request and hands every reply message to <paramref name="handler"/> until NLMSG_DONE.</summary>
    public void Dump(NetlinkWriter message, string what, NetlinkMessageHandler handler)
    {
        lock (_lock)
        {
            uint seq = Send(message, Nl.F_DUMP);
            while (true)
            {
                int received = Receive(what);
                ReadOnlySpan<byte> data = _receive.AsSpan(0, received);
                foreach (var (type, hdrSeq, flags, payload, whole) in Messages(data))
                {
                    if (hdrSeq != seq)
                    {
                        continue;
                    }
                    if (type == Nl.NLMSG_DONE)
                    {
                        return;
                    }
                    if (type == Nl.NLMSG_ERROR)
                    {
                        ThrowIfError(payload, whole, what);
                        return;
                    }
                    if ((flags & Nl.F_DUMP_INTR) != 0)
                    {
                        // The table changed under the dump; the reply is still a best-effort snapshot, which is what callers want.
                    }
                    handler(type, payload);
                }
            }
        }
    }

    private uint Send(NetlinkWriter message, ushort extraFlags)
    {
        uint seq = ++_sequence;
        ReadOnlySpan<byte> bytes = message.Finish(seq);
        ushort flags = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]) | Nl.F_REQUEST | extraFlags);
        fixed (byte* p = bytes)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(p + 6, 2), flags);
            bool added = false;
            _handle.DangerousAddRef(ref added);
            try
            {
                while (true)
                {
                    nint n = LibC.Send((int)_handle.DangerousGetHandle(), p, bytes.Length, 0);
                    if (n >= 0)
                    {
                        return seq;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != LibC.EINTR)
                    {
                        throw new VireoException(ErrorKind.OperationFailed, $"cannot send to rtnetlink: {LibC.ErrorText(errno)}");
                    }
                }
            }
            finally
            {
                _handle.DangerousRelease();
            }
        }
    }

    private int Receive(string what)
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = _receive)
            {
                while (true)
                {
                    // MSG_TRUNC makes recv report a datagram's full size, so an oversized reply is an error, not a silent cut.
                    nint n = LibC.Recv((int)_handle.DangerousGetHandle(), p, _receive.Length, LibC.MSG_TRUNC);
                    if (n > _receive.Length)
                    {
                        throw new VireoException(ErrorKind.OperationFailed,
                            $"{what}: an rtnetlink reply of {n} bytes exceeds the {_receive.Length}-byte buffer");
                    }
                    if (n >= 0)
                    {
                        return (int)n;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != LibC.EINTR)
                    {
                        throw new VireoException(ErrorKind.OperationFailed, $"{what}: cannot read from rtnetlink: {LibC.ErrorText(errno)}");
                    }
                }
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    private static MessageEnumerator Messages(ReadOnlySpan<byte> data) => new(data);

    private static void ThrowIfError(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> whole, string what)
    {
        if (payload.Length < 4)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"{what}: truncated rtnetlink error");
        }
        int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (error == 0)
        {
            return;
        }
        int errno = -error;
        string? kernelText = null;
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(whole[6..]);
        if ((flags & Nl.F_ACK_TLVS) != 0)
        {
            // nlmsgerr = error + the original header (+ its payload unless capped); TLVs follow.
            int origLen = (flags & Nl.F_CAPPED) != 0 ? Nl.HeaderSize : (int)BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
            int tlvStart = 4 + NetlinkWriter.Align(origLen);
            if (tlvStart <= payload.Length)
            {
                foreach (var attr in new NetlinkAttributes(payload[tlvStart..]))
                {
                    if (attr.Type == Nl.NLMSGERR_ATTR_MSG)
                    {
                        kernelText = attr.String;
                    }
                }
            }
        }
        throw NetlinkErrors.Create(errno, what, kernelText);
    }

    internal ref struct MessageEnumerator
    {
        private ReadOnlySpan<byte> _rest;

        public MessageEnumerator(ReadOnlySpan<byte> data)
        {
            _rest = data;
            Current = default;
        }

        public NetlinkMessage Current { get; private set; }

        public readonly MessageEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_rest.Length < Nl.HeaderSize)
            {
                return false;
            }
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(_rest);
            if (len < Nl.HeaderSize || len > _rest.Length)
            {
                return false;
            }
            ReadOnlySpan<byte> whole = _rest[..len];
            Current = new NetlinkMessage(whole);
            int next = NetlinkWriter.Align(len);
            _rest = next >= _rest.Length ? default : _rest[next..];
            return true;
        }
    }
}

/// <summary>One message of a reply: the whole bytes and the payload after the nlmsghdr.</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ReadOnlySpan<byte> whole) => Whole = whole;

    public ReadOnlySpan<byte> Whole { get; }

    public ushort Type => BinaryPrimitives.ReadUInt16LittleEndian(Whole[4..]);

    public ushort Flags => BinaryPrimitives.ReadUInt16LittleEndian(Whole[6..]);

    public uint Seq => BinaryPrimitives.ReadUInt32LittleEndian(Whole[8..]);

    public ReadOnlySpan<byte> Payload => Whole[Nl.HeaderSize..];

    public void Deconstruct(out ushort type, out uint seq, out ushort flags, out ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> whole)
    {
        type = Type;
        seq = Seq;
        flags = Flags;
        payload = Payload;
        whole = Whole;
    }
}
