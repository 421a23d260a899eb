using System.Globalization;

namespace Vireo.Host.Discovery;

public static partial class HostDiscovery
{
    private const string PciBase = "/sys/bus/pci/devices";

    private static List<PciDevice> ReadPciDevices(HostRoot root, List<NetDevice> net, List<BlockDevice> block)
    {
        var devices = new List<PciDevice>();
        foreach (string name in root.List(PciBase))
        {
            if (PciAddress.TryParse(name) is not PciAddress address)
            {
                continue;
            }

            devices.Add(ReadPciDevice(root, address, net, block));
        }

        devices.Sort((a, b) => a.Address.CompareTo(b.Address));
        return devices;
    }

    /// <summary>Reads one PCI function; also used to re-check a device right before detaching it.</summary>
    public static PciDevice ReadPciDevice(HostRoot root, PciAddress address, IReadOnlyList<NetDevice> net, IReadOnlyList<BlockDevice> block)
    {
        string p = $"{PciBase}/{address}";
        SriovFacts? sriov = null;
        if (root.ReadInt($"{p}/sriov_totalvfs") is int total)
        {
            var vfs = new List<(int Index, PciAddress Address)>();
            foreach (string entry in root.List(p))
            {
                if (entry.StartsWith("virtfn", StringComparison.Ordinal)
                    && int.TryParse(entry.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    && PciAddress.TryParse(root.LinkName($"{p}/{entry}")) is PciAddress vf)
                {
                    vfs.Add((index, vf));
                }
            }

            sriov = new SriovFacts(total, root.ReadInt($"{p}/sriov_numvfs") ?? 0, [.. vfs.OrderBy(v => v.Index).Select(v => v.Address)]);
        }

        string? over = root.ReadText($"{p}/driver_override");
        return new PciDevice(
            address,
            root.ReadInt($"{p}/vendor") ?? 0,
            root.ReadInt($"{p}/device") ?? 0,
            root.ReadInt($"{p}/class") ?? 0,
            root.ReadInt($"{p}/subsystem_vendor") ?? 0,
            root.ReadInt($"{p}/subsystem_device") ?? 0,
            root.LinkName($"{p}/driver"),
            over is null or "(null)" or "" ? null : over,
            int.TryParse(root.LinkName($"{p}/iommu_group"), NumberStyles.None, CultureInfo.InvariantCulture, out int g) ? g : null,
            root.ReadInt($"{p}/numa_node") ?? -1,
            sriov,
            PciAddress.TryParse(root.LinkName($"{p}/physfn")),
            [.. net.Where(n => n.Parent == address).Select(n => n.Name)],
            [.. block.Where(b => b.Parent == address).Select(b => b.Name)]);
    }

    public static List<NetDevice> ReadNetDevices(HostRoot root)
    {
        var list = new List<NetDevice>();
        foreach (string name in root.List("/sys/class/net"))
        {
            string p = $"/sys/class/net/{name}";
            if (!root.Exists($"{p}/flags"))
            {
                continue; // bonding_masters and other plain files
            }

            long flags = root.ReadLong($"{p}/flags") ?? 0;
            int? speed = root.ReadInt($"{p}/speed");
            list.Add(new NetDevice(
                name,
                root.ReadText($"{p}/address"),
                (flags & 1) != 0, // IFF_UP: the administrator brought it up, whatever the carrier says.
                root.ReadText($"{p}/operstate"),
                root.ReadInt($"{p}/mtu"),
                speed is > 0 ? speed : null,
                ParentPci(root.ResolveLink(p))));
        }

        return list;
    }

    public static List<BlockDevice> ReadBlockDevices(HostRoot root)
    {
        var list = new List<BlockDevice>();
        foreach (string name in root.List("/sys/class/block"))
        {
            string p = $"/sys/class/block/{name}";
            string? resolved = root.ResolveLink(p);
            // Partitions are listed under their disk; loop, zram and device-mapper devices are virtual.
            if (root.Exists($"{p}/partition") || (resolved?.Contains("/devices/virtual/", StringComparison.Ordinal) ?? false))
            {
                continue;
            }

            var partitions = root.List(p).Where(e => root.Exists($"{p}/{e}/partition")).ToList();
            list.Add(new BlockDevice(
                name,
                (root.ReadLong($"{p}/size") ?? 0) * 512,
                root.ReadInt($"{p}/removable") == 1,
                root.ReadInt($"{p}/ro") == 1,
                root.ReadText($"{p}/device/model"),
                root.ReadText($"{p}/device/vendor"),
                partitions,
                ParentPci(resolved)));
        }

        return list;
    }

    /// <summary>The innermost PCI function in a resolved sysfs device path, e.g. …/0000:00:03.0/virtio2/net/eth0.</summary>
    internal static PciAddress? ParentPci(string? resolvedPath)
    {
        if (resolvedPath is null)
        {
            return null;
        }

        PciAddress? found = null;
        foreach (string part in resolvedPath.Split('/'))
        {
            if (part.Length == 12 && PciAddress.TryParse(part) is PciAddress a)
            {
                found = a;
            }
        }

        return found;
    }
}
