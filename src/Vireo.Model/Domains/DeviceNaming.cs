using System.Globalization;

namespace Vireo.Model.Domains;

/// <summary>
/// Gives every device the alias (QEMU device id) libvirt would give it — <c>virtio-disk0</c>, <c>sata0-0-0</c>,
/// <c>net0</c>, <c>serial0</c> — and fills in the drive address of IDE/SATA/SCSI/floppy disks from their target name,
/// as libvirt does. Hotplug and monitoring find devices by these aliases.
/// </summary>
internal static class DeviceNaming
{
    public static DomainDefinition Assign(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        var disks = d.Disks.Select(disk => NameDisk(disk, d.Controllers)).ToList();
        int n = 0;
        int h = 0;
        // A hostdev interface is a host device to QEMU (libvirt lists it with the hostdevs): hostdevN.
        var nets = d.Interfaces.Select(i => i with { Alias = i.UserAlias ?? (i.Type == "hostdev" ? I("hostdev", h++) : I("net", n++)) }).ToList();
        var serials = d.Serials.Select((s, i) => s with { Alias = s.UserAlias ?? I("serial", i) }).ToList();
        var parallels = d.Parallels.Select((s, i) => s with { Alias = s.UserAlias ?? I("parallel", i) }).ToList();
        var channels = d.Channels.Select((s, i) => s with { Alias = s.UserAlias ?? I("channel", i) }).ToList();
        var consoles = d.Consoles.Select((s, i) => s with
        {
            Alias = s.UserAlias ?? (i == 0 && s.IsSerialConsole && serials.Count > 0 ? serials[0].Alias : I("console", i)),
        }).ToList();
        var controllers = IndexControllers(d.Controllers).Select(c => c with { Alias = ControllerAlias(c, def.Os.IsQ35) }).ToList();
        return def with
        {
            Devices = d with
            {
                Disks = disks,
                Interfaces = nets,
                Serials = serials,
                Parallels = parallels,
                Channels = channels,
                Consoles = consoles,
                Controllers = controllers,
                Inputs = d.Inputs.Select((x, i) => x with { Alias = I("input", i) }).ToList(),
                Videos = d.Videos.Select((x, i) => x with { Alias = I("video", i) }).ToList(),
                Sounds = d.Sounds.Select((x, i) => x with { Alias = I("sound", i) }).ToList(),
                Hostdevs = d.Hostdevs.Select((x, i) => x with { Alias = I("hostdev", h + i) }).ToList(),
                Rngs = d.Rngs.Select((x, i) => x with { Alias = I("rng", i) }).ToList(),
                Watchdogs = d.Watchdogs.Select((x, i) => x with { Alias = I("watchdog", i) }).ToList(),
                Tpms = d.Tpms.Select((x, i) => x with { Alias = I("tpm", i) }).ToList(),
                Memories = d.Memories.Select((x, i) => x with { Alias = I("dimm", i) }).ToList(),
            },
        };
    }

    /// <summary>Controllers written without an index get the next unused index of their type, in document order.</summary>
    private static List<Controller> IndexControllers(IReadOnlyList<Controller> controllers)
    {
        var used = controllers.Where(c => c.Index >= 0).Select(c => (c.Type, c.Index)).ToHashSet();
        var result = new List<Controller>(controllers.Count);
        foreach (Controller c in controllers)
        {
            if (c.Index >= 0)
            {
                result.Add(c);
                continue;
            }
            int index = 0;
            while (used.Contains((c.Type, index)))
            {
                index++;
            }
            used.Add((c.Type, index));
            result.Add(c with { Index = index });
        }
        return result;
    }

    /// <summary>libvirt's virDomainDiskDefAssignAddress: the drive address implied by the target name.</summary>
    public static DeviceAddress? DriveAddressFor(Disk disk)
    {
        int idx = DiskNames.Index(disk.TargetDev);
        return disk.Bus switch
        {
            "ide" => DeviceAddress.Drive(idx / 4, idx % 4 / 2, 0, idx % 2),
            "sata" => DeviceAddress.Drive(idx / 6, 0, 0, idx % 6),
            "scsi" => DeviceAddress.Drive(idx / 7, 0, 0, idx % 7),
            "fdc" => DeviceAddress.Drive(0, 0, 0, idx),
            _ => null,
        };
    }

    private static Disk NameDisk(Disk disk, IReadOnlyList<Controller> controllers)
    {
        DeviceAddress? address = disk.Address;
        if (address is null && disk.Bus is "ide" or "sata" or "scsi" or "fdc")
        {
            address = DriveAddressFor(disk);
        }
        if (disk.Bus is "ide" or "sata" or "scsi" or "fdc" && address is { Type: not "drive" })
        {
            throw VireoException.Invalid($"disk '{disk.TargetDev}' on bus '{disk.Bus}' needs a drive address, not '{address.Type}'");
        }
        string alias = disk.UserAlias ?? disk.Bus switch
        {
            "ide" => I3("ide", address!),
            "sata" => I3("sata", address!),
            "fdc" => I3("fdc", address!),
            // libvirt names disks on its default LSI controller by controller-bus-unit, on others with the target too.
            "scsi" when controllers.FirstOrDefault(c => c.Type == "scsi" && c.Index == (address!.Controller ?? 0))?.Model is null or "lsilogic" or "auto"
                => I3("scsi", address!),
            "scsi" => string.Create(CultureInfo.InvariantCulture, $"scsi{address!.Controller ?? 0}-{address.Bus ?? 0}-{address.Target ?? 0}-{address.Unit ?? 0}"),
            "usb" => I("usb-disk", DiskNames.Index(disk.TargetDev)),
            _ => I("virtio-disk", DiskNames.Index(disk.TargetDev)),
        };
        return disk with { Address = address, Alias = alias };
    }

    private static string ControllerAlias(Controller c, bool q35) => c.Type switch
    {
        "pci" when c.Index == 0 => c.Model == "pcie-root" || (c.Model is null && q35) ? "pcie.0" : "pci.0",
        "pci" => I("pci.", c.Index),
        "usb" => c.Index == 0 ? "usb" : I("usb", c.Index),
        "ide" => c.Index == 0 ? "ide" : I("ide", c.Index),
        "sata" => I("sata", c.Index),
        "scsi" => I("scsi", c.Index),
        "virtio-serial" => I("virtio-serial", c.Index),
        "fdc" => I("fdc", c.Index),
        _ => I(c.Type, c.Index),
    };

    private static string I(string prefix, int i) => prefix + i.ToString(CultureInfo.InvariantCulture);

    private static string I3(string prefix, DeviceAddress a) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{a.Controller ?? 0}-{a.Bus ?? 0}-{a.Unit ?? 0}");
}
