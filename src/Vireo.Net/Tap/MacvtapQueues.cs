using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Vireo.Model;
using Vireo.Net.Namespaces;
using Vireo.Net.Native;

namespace Vireo.Net.Tap;

/// <summary>
/// The guest side of a macvtap (libvirt's <c>&lt;interface type='direct'&gt;</c>): the character device
/// <c>/dev/tapN</c>, N the macvtap link's index, opened once per queue and handed to QEMU like a TAP's fds
/// (same ownership rules as <see cref="TapDevice"/>: O_CLOEXEC here, dup2'd by the launcher, disposed once QEMU runs).
/// Create the link first with <see cref="Netlink.RtNetlink.CreateMacvtap"/>.
/// </summary>
public sealed class MacvtapQueues : IDisposable
{
    private const nuint TUNSETIFF = 0x400454CA;
    private const nuint TUNGETIFF = 0x800454D2;
    private const nuint TUNSETVNETHDRSZ = 0x400454D8;
    private const short IFF_VNET_HDR = 0x4000;

    private readonly List<SafeFileHandle> _queues;

    private MacvtapQueues(string device, List<SafeFileHandle> queues)
    {
        Device = device;
        _queues = queues;
    }

    /// <summary>The character device, e.g. <c>/dev/tap12</c>.</summary>
    public string Device { get; }

    public IReadOnlyList<SafeFileHandle> QueueHandles => _queues;

    public int[] QueueFds => [.. _queues.Select(h => (int)h.DangerousGetHandle())];

    /// <summary>Opens <paramref name="queues"/> fds on the macvtap with index <paramref name="linkIndex"/> (in <paramref name="ns"/>).</summary>
    public static MacvtapQueues Open(int linkIndex, int queues = 1, bool vnetHeader = true, NetNamespace? ns = null)
    {
        if (linkIndex <= 0)
        {
            throw VireoException.Invalid($"macvtap link index {linkIndex} is not a valid index");
        }
        if (queues < 1 || queues > 256)
        {
            throw VireoException.Invalid($"macvtap queue count {queues} is out of range 1-256");
        }
        return ns is null ? OpenHere(linkIndex, queues, vnetHeader) : ns.Run(() => OpenHere(linkIndex, queues, vnetHeader));
    }

    public void Dispose() => _queues.ForEach(h => h.Dispose());

    private static unsafe MacvtapQueues OpenHere(int linkIndex, int queues, bool vnetHeader)
    {
        string device = $"/dev/tap{linkIndex}";
        var handles = new List<SafeFileHandle>();
        byte* ifr = stackalloc byte[40];
        try
        {
            for (int q = 0; q < queues; q++)
            {
                int fd = LibC.Open(device, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new VireoException(errno == LibC.ENOENT ? ErrorKind.NotFound : ErrorKind.OperationFailed,
                        $"cannot open macvtap device {device}: {LibC.ErrorText(errno)}");
                }
                var handle = new SafeFileHandle(fd, ownsHandle: true);
                handles.Add(handle);
                // ifreq: name[16], flags at 16; TUNGETIFF then TUNSETIFF with IFF_VNET_HDR toggled, as libvirt does.
                new Span<byte>(ifr, 40).Clear();
                Check(LibC.Ioctl(fd, TUNGETIFF, ifr), device, "TUNGETIFF");
                short flags = *(short*)(ifr + 16);
                short wanted = vnetHeader ? (short)(flags | IFF_VNET_HDR) : (short)(flags & ~IFF_VNET_HDR);
                if (wanted != flags)
                {
                    *(short*)(ifr + 16) = wanted;
                    Check(LibC.Ioctl(fd, TUNSETIFF, ifr), device, "TUNSETIFF");
                }
                if (vnetHeader)
                {
                    int size = 12;
                    Check(LibC.Ioctl(fd, TUNSETVNETHDRSZ, &size), device, "TUNSETVNETHDRSZ");
                }
            }
            return new MacvtapQueues(device, handles);
        }
        catch
        {
            handles.ForEach(h => h.Dispose());
            throw;
        }
    }

    private static void Check(int rc, string device, string what)
    {
        if (rc != 0)
        {
            throw new VireoException(ErrorKind.OperationFailed,
                $"cannot set up macvtap device {device}: {what}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
    }
}
