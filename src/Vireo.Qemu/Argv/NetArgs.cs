using System.Globalization;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// Interfaces: a <c>-netdev</c> backend (user, tap with the fds the engine prepared, vhost-user) and a NIC
/// <c>-device</c>; <c>hostdev</c> interfaces become vfio-pci functions.
/// </summary>
internal static class NetArgs
{
    public static void Write(ArgvWriter w)
    {
        IReadOnlyList<NetInterface> nets = w.Def.Devices.Interfaces;
        var boot = BootOrder.Compute(w.Def);
        for (int i = 0; i < nets.Count; i++)
        {
            NetInterface n = nets[i];
            string netdevId = "host" + n.Alias;
            if (n.Type == "hostdev")
            {
                w.Device(new QemuOpts("vfio-pci").Add("host", HostdevArgs.HostAddress(n.SourceAddress!)).Add("id", n.Alias)
                    .Add("bootindex", boot.TryGetValue(n, out int hb) ? hb : null), n);
                continue;
            }
            WriteBackend(w, n, i, netdevId);
            var dev = new QemuOpts(Model(n));
            int queues = QueueCount(w, n, i);
            if (queues > 1 && IsVirtio(n))
            {
                dev.Add("mq", true).Add("vectors", 2 * queues + 2);
            }
            if (n.Mtu is int mtu && IsVirtio(n))
            {
                dev.Add("host_mtu", mtu);
            }
            if (IsVirtio(n))
            {
                dev.Add("rx_queue_size", n.RxQueueSize).Add("tx_queue_size", n.TxQueueSize);
            }
            dev.Add("netdev", netdevId).Add("id", n.Alias).Add("mac", n.Mac ?? DefaultMac(w.Def, i));
            if (boot.TryGetValue(n, out int bootIndex))
            {
                dev.Add("bootindex", bootIndex);
            }
            w.Device(dev, n);
        }
    }

    private static void WriteBackend(ArgvWriter w, NetInterface n, int index, string netdevId)
    {
        switch (n.Type)
        {
            case "user":
                w.Add("-netdev", new QemuOpts("user", "type").Add("id", netdevId));
                break;
            case "network" or "bridge" or "ethernet" or "direct":
                {
                    IReadOnlyList<int> fds = w.Options.InterfaceTapQueueFds.TryGetValue(index, out IReadOnlyList<int>? many) ? many
                        : w.Options.InterfaceTapFds.TryGetValue(index, out int one) ? [one]
                        : throw new VireoException(ErrorKind.InvalidState,
                            $"interface {n.Alias} (type '{n.Type}') needs a TAP prepared by the engine, and none was passed");
                    var tap = new QemuOpts("tap", "type");
                    if (fds.Count == 1)
                    {
                        tap.Add("fd", Text(fds[0]));
                    }
                    else
                    {
                        tap.Add("fds", string.Join(':', fds.Select(Text)));
                    }
                    bool vhost = n.DriverName != "qemu" && IsVirtio(n);
                    if (vhost && w.Options.InterfaceVhostFds.TryGetValue(index, out IReadOnlyList<int>? vhostFds) && vhostFds.Count > 0)
                    {
                        tap.Add("vhost", true);
                        tap.Add(vhostFds.Count == 1 ? "vhostfd" : "vhostfds", string.Join(':', vhostFds.Select(Text)));
                    }
                    else if (vhost && n.DriverName == "vhost")
                    {
                        tap.Add("vhost", true);
                    }
                    tap.Add("sndbuf", n.SndBuf);
                    tap.Add("id", netdevId);
                    w.Add("-netdev", tap);
                    break;
                }
            case "vhostuser":
                {
                    string chardev = "char" + n.Alias;
                    var sock = new QemuOpts("socket").Add("id", chardev).Add("path", n.SourcePath);
                    if (n.SourceMode == "server")
                    {
                        sock.Add("server", true);
                    }
                    w.Add("-chardev", sock);
                    var nd = new QemuOpts("vhost-user", "type").Add("chardev", chardev);
                    if (n.Queues is int q && q > 1)
                    {
                        nd.Add("queues", q);
                    }
                    w.Add("-netdev", nd.Add("id", netdevId));
                    break;
                }
            default:
                throw VireoException.Unsupported($"interface type '{n.Type}' is not supported");
        }
    }

    private static int QueueCount(ArgvWriter w, NetInterface n, int index) =>
        w.Options.InterfaceTapQueueFds.TryGetValue(index, out IReadOnlyList<int>? fds) ? fds.Count : n.Queues ?? 1;

    private static bool IsVirtio(NetInterface n) => n.Model is "virtio" or "virtio-transitional" or "virtio-non-transitional";

    private static string Model(NetInterface n) => n.Model switch
    {
        "virtio" or "virtio-non-transitional" => "virtio-net-pci",
        "virtio-transitional" => "virtio-net-pci-transitional",
        null => "rtl8139",
        "ne2k_pci" => "ne2k_pci",
        "pcnet" => "pcnet",
        string m => m,
    };

    /// <summary>A stable locally administered MAC (QEMU's 52:54:00 prefix) from the domain uuid and the NIC index.</summary>
    public static string DefaultMac(DomainDefinition def, int index)
    {
        byte[] u = def.Uuid.ToByteArray();
        int x = (u[13] + index) & 0xff;
        return string.Create(CultureInfo.InvariantCulture, $"52:54:00:{u[14] ^ u[0]:x2}:{u[15] ^ u[1]:x2}:{x:x2}");
    }

    private static string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
}
