using System.Globalization;
using Vireo.Model;

namespace Vireo.Host;

/// <summary>A PCI address, <c>0000:00:1f.2</c>, and its libvirt node device name <c>pci_0000_00_1f_2</c>.</summary>
public readonly record struct PciAddress(int Domain, int Bus, int Slot, int Function) : IComparable<PciAddress>
{
    public string NodeDeviceName => $"pci_{Domain:x4}_{Bus:x2}_{Slot:x2}_{Function:x1}";

    public override string ToString() => $"{Domain:x4}:{Bus:x2}:{Slot:x2}.{Function:x1}";

    public int CompareTo(PciAddress other) =>
        (Domain, Bus, Slot, Function).CompareTo((other.Domain, other.Bus, other.Slot, other.Function));

    /// <summary>Parses <c>0000:00:1f.2</c> or <c>00:1f.2</c>; null when the text is not one.</summary>
    public static PciAddress? TryParse(string? text)
    {
        if (text is null)
        {
            return null;
        }

        string[] parts = text.Split(':');
        if (parts.Length == 2)
        {
            parts = ["0000", .. parts];
        }

        if (parts.Length != 3)
        {
            return null;
        }

        string[] sf = parts[2].Split('.');
        if (sf.Length != 2
            || !Hex(parts[0], 4, 0xffff, out int domain)
            || !Hex(parts[1], 2, 0xff, out int bus)
            || !Hex(sf[0], 2, 0x1f, out int slot)
            || !Hex(sf[1], 1, 7, out int function))
        {
            return null;
        }

        return new PciAddress(domain, bus, slot, function);
    }

    /// <summary>Parses a node device name (<c>pci_0000_00_1f_2</c>) or a plain address.</summary>
    public static PciAddress ParseDeviceName(string name)
    {
        PciAddress? a = null;
        if (name.StartsWith("pci_", StringComparison.Ordinal))
        {
            string[] p = name[4..].Split('_');
            if (p.Length == 4)
            {
                a = TryParse($"{p[0]}:{p[1]}:{p[2]}.{p[3]}");
            }
        }
        else
        {
            a = TryParse(name);
        }

        return a ?? throw VireoException.Invalid($"device name '{name}' is not a PCI device (expected pci_DDDD_BB_SS_F or DDDD:BB:SS.F)");
    }

    private static bool Hex(string s, int maxLen, int max, out int value)
    {
        value = 0;
        return s.Length >= 1 && s.Length <= maxLen && s.All(char.IsAsciiHexDigit)
            && int.TryParse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value) && value <= max;
    }
}

/// <summary>A PCI function as sysfs shows it, with its SR-IOV relations and the host interfaces it carries.</summary>
public sealed record PciDevice(
    PciAddress Address,
    int Vendor,
    int Device,
    int Class,
    int SubsystemVendor,
    int SubsystemDevice,
    string? Driver,
    string? DriverOverride,
    int? IommuGroup,
    int NumaNode,
    SriovFacts? Sriov,
    PciAddress? PhysicalFunction,
    IReadOnlyList<string> NetInterfaces,
    IReadOnlyList<string> BlockDevices)
{
    public string Name => Address.NodeDeviceName;

    /// <summary>Bound to vfio-pci: ready for passthrough.</summary>
    public bool IsVfioBound => Driver == "vfio-pci";
}

/// <summary>A physical function's SR-IOV state: how many VFs it can have, has, and where they are.</summary>
public sealed record SriovFacts(int TotalVfs, int NumVfs, IReadOnlyList<PciAddress> VirtualFunctions);

/// <summary>A network interface: its state and the PCI function behind it, if any.</summary>
public sealed record NetDevice(string Name, string? Mac, bool Up, string? OperState, int? Mtu, int? SpeedMbps, PciAddress? Parent)
{
    /// <summary>libvirt's node device name: <c>net_eth0_52_54_00_12_34_56</c>.</summary>
    public string NodeDeviceName => $"net_{Name}_{(Mac ?? "00:00:00:00:00:00").Replace(':', '_')}";
}

/// <summary>A whole-disk block device, its partitions, size and parent PCI function.</summary>
public sealed record BlockDevice(string Name, long SizeBytes, bool Removable, bool ReadOnly, string? Model, string? Vendor, IReadOnlyList<string> Partitions, PciAddress? Parent)
{
    public string NodeDeviceName => $"block_{Name}";
}
