using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Vireo.Model;
using Vireo.Net.Namespaces;
using Vireo.Net.Native;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tap;

/// <summary>
/// A TAP made through <c>/dev/net/tun</c> (TUNSETIFF, IFF_TAP|IFF_NO_PI, optionally IFF_VNET_HDR and IFF_MULTI_QUEUE),
/// never persistent: the link exists exactly as long as some process holds one of its queue fds.
/// <para>
/// Ownership: this object owns <see cref="QueueHandles"/> and <see cref="VhostNetHandles"/> and closes them on
/// <see cref="Dispose"/>. They are opened O_CLOEXEC so no other child (dnsmasq, nft) inherits them; the QEMU
/// launcher passes each one with posix_spawn's dup2 action to the fixed fd number named in QEMU's argv
/// (<c>-netdev tap,fds=3:4,vhostfds=5:6</c>) — dup2 clears FD_CLOEXEC on the target. If a source fd already equals its
/// target number, the launcher must dup it elsewhere first (dup2 to itself would keep FD_CLOEXEC). Once QEMU runs,
/// dispose this object: QEMU's copies keep the TAP alive, and it vanishes when QEMU exits.
/// </para>
/// </summary>
public sealed class TapDevice : IDisposable
{
    private const string TunPath = "/dev/net/tun";
    private const string VhostNetPath = "/dev/vhost-net";
    private const nuint TUNSETIFF = 0x400454CA;
    private const nuint TUNSETPERSIST = 0x400454CB;
    private const nuint TUNSETOWNER = 0x400454CC;
    private const nuint TUNSETVNETHDRSZ = 0x400454D8;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_VNET_HDR = 0x4000;
    private const short IFF_MULTI_QUEUE = 0x0100;
    private const int MaxQueues = 256;

    private readonly List<SafeFileHandle> _queues;
    private readonly List<SafeFileHandle> _vhost;

    private TapDevice(string name, List<SafeFileHandle> queues, List<SafeFileHandle> vhost, bool vnetHeader)
    {
        Name = name;
        _queues = queues;
        _vhost = vhost;
        VnetHeader = vnetHeader;
    }

    /// <summary>The link name the kernel gave (e.g. <c>vnet0</c>).</summary>
    public string Name { get; }

    public bool VnetHeader { get; }

    /// <summary>One tun fd per queue, owned by this object.</summary>
    public IReadOnlyList<SafeFileHandle> QueueHandles => _queues;

    /// <summary>One vhost-net fd per queue, or none when <c>/dev/vhost-net</c> does not exist (QEMU then uses its userspace virtio-net).</summary>
    public IReadOnlyList<SafeFileHandle> VhostNetHandles => _vhost;

    /// <summary>The raw queue fd numbers in this process, still owned by this object.</summary>
    public int[] QueueFds => [.. _queues.Select(h => (int)h.DangerousGetHandle())];

    /// <summary>The raw vhost-net fd numbers in this process, still owned by this object.</summary>
    public int[] VhostNetFds => [.. _vhost.Select(h => (int)h.DangerousGetHandle())];

    /// <summary>Whether vhost-net acceleration is available on this host.</summary>
    public static bool VhostNetAvailable => File.Exists(VhostNetPath);

    /// <summary>libvirt's rule: the TAP's MAC is the guest's with the first byte 0xFE, so the bridge never adopts it.</summary>
    public static MacAddress HostMacFor(MacAddress guestMac) => guestMac.WithFirstByte(0xFE);

    /// <summary>Creates a TAP in <paramref name="ns"/> (or the caller's namespace), configures it and returns its fds.</summary>
    public static TapDevice Create(TapOptions options, NetNamespace? ns = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Queues < 1 || options.Queues > MaxQueues)
        {
            throw VireoException.Invalid($"TAP queue count {options.Queues} is out of range 1-{MaxQueues}");
        }
        if (options.Name is not null)
        {
            RtNetlink.ValidateLinkName(options.Name, "TAP name");
            if (options.Name.Contains('%'))
            {
                throw VireoException.Invalid($"TAP name '{options.Name}' must not contain '%'");
            }
        }
        // The tun fds must be opened inside the namespace: the device is born in the namespace of its first fd.
        return ns is null ? CreateHere(options) : ns.Run(() => CreateHere(options));
    }

    public void Dispose()
    {
        foreach (SafeFileHandle h in _queues)
        {
            h.Dispose();
        }
        foreach (SafeFileHandle h in _vhost)
        {
            h.Dispose();
        }
    }

    private static TapDevice CreateHere(TapOptions options)
    {
        var queues = new List<SafeFileHandle>();
        var vhost = new List<SafeFileHandle>();
        using RtNetlink rtnl = RtNetlink.Open();
        try
        {
            if (options.Name is { } wanted && rtnl.LinkExists(wanted))
            {
                // TUNSETIFF would silently attach to an existing TAP of that name; refuse instead.
                throw new VireoException(ErrorKind.AlreadyExists, $"cannot create TAP '{wanted}': a link with that name already exists");
            }
            // "vnet%d" lets the kernel pick the lowest free number atomically, as libvirt does.
            string name = options.Name ?? "vnet%d";
            short flags = (short)(IFF_TAP | IFF_NO_PI | (options.VnetHeader ? IFF_VNET_HDR : 0) | (options.Queues > 1 ? IFF_MULTI_QUEUE : 0));
            for (int q = 0; q < options.Queues; q++)
            {
                SafeFileHandle fd = OpenDevice(TunPath, options.Name ?? "TAP");
                queues.Add(fd);
                name = SetIff(fd, name, flags);
                if (options.VnetHeader)
                {
                    int size = options.VnetHeaderSize;
                    Ioctl(fd, TUNSETVNETHDRSZ, ref size, name, "set the vnet header size");
                }
            }
            Ioctl(queues[0], TUNSETPERSIST, 0, name, "make it non-persistent");
            if (options.OwnerUid is { } uid)
            {
                Ioctl(queues[0], TUNSETOWNER, (nint)uid, name, $"set its owner to uid {uid}");
            }
            if (options.VhostNet && VhostNetAvailable)
            {
                for (int q = 0; q < options.Queues; q++)
                {
                    vhost.Add(OpenDevice(VhostNetPath, name));
                }
            }
            if (options.Mac is { } mac)
            {
                rtnl.SetMac(name, mac);
            }
            if (options.Mtu is { } mtu)
            {
                rtnl.SetMtu(name, mtu);
            }
            if (options.Bridge is { } bridge)
            {
                rtnl.SetMaster(name, bridge);
            }
            if (options.Up)
            {
                rtnl.SetUp(name);
            }
            return new TapDevice(name, queues, vhost, options.VnetHeader);
        }
        catch
        {
            // Closing every fd of a non-persistent TAP removes the link: nothing is left behind.
            queues.ForEach(h => h.Dispose());
            vhost.ForEach(h => h.Dispose());
            throw;
        }
    }

    private static SafeFileHandle OpenDevice(string path, string name)
    {
        int fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VireoException(errno == LibC.ENOENT ? ErrorKind.HostUnavailable : ErrorKind.OperationFailed,
                $"cannot create TAP '{name}': {path}: {LibC.ErrorText(errno)}");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static unsafe string SetIff(SafeFileHandle fd, string name, short flags)
    {
        // struct ifreq: char ifr_name[16]; short ifr_flags; padding to 40 bytes.
        byte* ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        Encoding.UTF8.GetBytes(name, new Span<byte>(ifr, 15));
        *(short*)(ifr + 16) = flags;
        if (LibC.Ioctl((int)fd.DangerousGetHandle(), TUNSETIFF, ifr) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string shown = name.Contains('%') ? "vnetN" : name;
            throw new VireoException(errno == 16 ? ErrorKind.Busy : ErrorKind.OperationFailed,
                $"cannot create TAP '{shown}': TUNSETIFF: {LibC.ErrorText(errno)}");
        }
        var span = new ReadOnlySpan<byte>(ifr, 16);
        int nul = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? span[..nul] : span);
    }

    private static unsafe void Ioctl(SafeFileHandle fd, nuint request, ref int value, string name, string what)
    {
        fixed (int* p = &value)
        {
            if (LibC.Ioctl((int)fd.DangerousGetHandle(), request, p) != 0)
            {
                ThrowIoctl(name, what);
            }
        }
    }

    private static void Ioctl(SafeFileHandle fd, nuint request, nint value, string name, string what)
    {
        if (LibC.Ioctl((int)fd.DangerousGetHandle(), request, value) != 0)
        {
            ThrowIoctl(name, what);
        }
    }

    private static void ThrowIoctl(string name, string what) =>
        throw new VireoException(ErrorKind.OperationFailed,
            $"cannot {what} for TAP '{name}': {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
}
