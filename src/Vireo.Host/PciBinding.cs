using Vireo.Host.Discovery;
using Vireo.Model;

namespace Vireo.Host;

/// <summary>
/// Moves a PCI function between its host driver and vfio-pci, as <c>virsh nodedev-detach/reattach</c> do:
/// set <c>driver_override</c>, unbind, and ask the kernel to probe again. Every check runs before the first write,
/// so a refused device is left exactly as it was.
/// </summary>
public static class PciBinding
{
    public const string VfioDriver = "vfio-pci";

    /// <summary>Binds the device to vfio-pci. Returns false when it already was.</summary>
    public static bool Detach(HostRoot root, PciAddress address)
    {
        var device = ReadForChange(root, address);
        if (device.IsVfioBound)
        {
            return false;
        }

        EnsureNotInUse(root, device);
        if (device.Sriov is { NumVfs: > 0 } sriov)
        {
            throw VireoException.State($"PCI device {address} has {sriov.NumVfs} SR-IOV virtual functions enabled; set sriov_numvfs to 0 or pass a VF instead");
        }

        if (!root.Exists("/sys/bus/pci/drivers/vfio-pci") && root.IsSystem)
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"cannot detach {address}: the vfio-pci driver is not loaded (modprobe vfio-pci)");
        }

        string p = $"/sys/bus/pci/devices/{address}";
        root.WriteText($"{p}/driver_override", VfioDriver);
        if (device.Driver is not null)
        {
            root.WriteText($"{p}/driver/unbind", address.ToString());
        }

        root.WriteText("/sys/bus/pci/drivers_probe", address.ToString());
        return true;
    }

    /// <summary>Returns the device to its host driver. Returns false when it was not on vfio-pci.</summary>
    public static bool Reattach(HostRoot root, PciAddress address)
    {
        var device = ReadForChange(root, address);
        string p = $"/sys/bus/pci/devices/{address}";
        if (!device.IsVfioBound && device.DriverOverride is null)
        {
            return false;
        }

        // An empty override lets the normal id tables pick the driver again.
        root.WriteText($"{p}/driver_override", "\n");
        if (device.Driver is not null)
        {
            root.WriteText($"{p}/driver/unbind", address.ToString());
        }

        root.WriteText("/sys/bus/pci/drivers_probe", address.ToString());
        return true;
    }

    /// <summary>
    /// Refuses a device the host is using: a network interface on it is up, or a disk on it (or a partition) is
    /// mounted, used as swap, or held by device-mapper/md.
    /// </summary>
    public static void EnsureNotInUse(HostRoot root, PciDevice device)
    {
        var net = HostDiscovery.ReadNetDevices(root).Where(n => n.Parent == device.Address);
        foreach (var n in net)
        {
            if (n.Up)
            {
                throw VireoException.State($"PCI device {device.Address} is in use by the host: its network interface '{n.Name}' is up (ip link set {n.Name} down first)");
            }
        }

        var mounted = MountedDevices(root);
        foreach (var b in HostDiscovery.ReadBlockDevices(root).Where(b => b.Parent == device.Address))
        {
            foreach (string dev in b.Partitions.Prepend(b.Name))
            {
                if (mounted.TryGetValue(dev, out string? where))
                {
                    throw VireoException.State($"PCI device {device.Address} is in use by the host: its disk /dev/{dev} is {where}");
                }

                string holders = b.Name == dev ? $"/sys/class/block/{dev}/holders" : $"/sys/class/block/{b.Name}/{dev}/holders";
                if (root.List(holders) is { Count: > 0 } h)
                {
                    throw VireoException.State($"PCI device {device.Address} is in use by the host: its disk /dev/{dev} is held by {string.Join(", ", h)}");
                }
            }
        }
    }

    /// <summary>Block device name → how it is used ("mounted on /", "used as swap").</summary>
    internal static Dictionary<string, string> MountedDevices(HostRoot root)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in root.ReadLines("/proc/mounts"))
        {
            string[] f = line.Split(' ');
            if (f.Length >= 2 && f[0].StartsWith("/dev/", StringComparison.Ordinal))
            {
                result.TryAdd(f[0][5..], $"mounted on {f[1]}");
            }
        }

        foreach (string line in root.ReadLines("/proc/swaps").Skip(1))
        {
            string[] f = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 1 && f[0].StartsWith("/dev/", StringComparison.Ordinal))
            {
                result.TryAdd(f[0][5..], "used as swap");
            }
        }

        return result;
    }

    private static PciDevice ReadForChange(HostRoot root, PciAddress address)
    {
        if (!root.Exists($"/sys/bus/pci/devices/{address}"))
        {
            throw VireoException.NotFound($"no PCI device {address} ({address.NodeDeviceName}) on this host");
        }

        return HostDiscovery.ReadPciDevice(root, address, [], []);
    }
}
