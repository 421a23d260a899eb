using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>PCI topology (root ports, bridges), then USB, SCSI, virtio-serial and extra SATA/IDE controllers.</summary>
internal static class ControllerArgs
{
    public static void Write(ArgvWriter w)
    {
        foreach (Controller c in w.Pci.Controllers.OrderBy(c => c.Index))
        {
            if (!c.IsPciRoot)
            {
                WritePci(w, c);
            }
        }
        foreach (Controller c in w.Def.Devices.Controllers)
        {
            switch (c.Type)
            {
                case "usb":
                    WriteUsb(w, c);
                    break;
                case "scsi":
                    w.Device(new QemuOpts(ScsiDriver(c)).Add("id", c.Alias).Add("num_queues", c.Queues).Add("iothread", c.IoThread is int t ? "iothread" + t : null), c);
                    break;
                case "virtio-serial":
                    w.Device(new QemuOpts("virtio-serial-pci").Add("id", c.Alias).Add("max_ports", c.Ports).Add("vectors", c.Vectors), c);
                    break;
                case "sata" when !w.IsQ35 || c.Index > 0:
                    w.Device(new QemuOpts("ahci").Add("id", c.Alias), c);
                    break;
                case "ide" when c.Index > 0:
                    throw VireoException.Unsupported($"a second IDE controller (index {c.Index}) is not supported");
                case "ccid" or "isa":
                    throw VireoException.Unsupported($"<controller type='{c.Type}'> is not supported");
            }
        }
    }

    private static void WritePci(ArgvWriter w, Controller c)
    {
        DeviceAddress a = w.Pci.AddressOf(c) ?? throw new InvalidOperationException($"controller pci.{c.Index} has no address");
        QemuOpts o = c.Model switch
        {
            "pcie-root-port" => new QemuOpts(c.ModelName ?? "pcie-root-port")
                .Add("port", c.TargetPort ?? ((a.Slot ?? 0) << 3 | (a.Function ?? 0)))
                .Add("chassis", c.TargetChassis ?? c.Index),
            "pci-bridge" => new QemuOpts(c.ModelName ?? "pci-bridge").Add("chassis_nr", c.TargetChassisNr ?? c.Index),
            "dmi-to-pci-bridge" => new QemuOpts(c.ModelName ?? "i82801b11-bridge"),
            "pcie-to-pci-bridge" => new QemuOpts(c.ModelName ?? "pcie-pci-bridge"),
            "pcie-switch-upstream-port" => new QemuOpts(c.ModelName ?? "x3130-upstream"),
            "pcie-switch-downstream-port" => new QemuOpts(c.ModelName ?? "xio3130-downstream")
                .Add("port", c.TargetPort ?? 0).Add("chassis", c.TargetChassis ?? c.Index),
            "pci-expander-bus" => new QemuOpts(c.ModelName ?? "pxb").Add("bus_nr", c.TargetBusNr ?? 254),
            "pcie-expander-bus" => new QemuOpts(c.ModelName ?? "pxb-pcie").Add("bus_nr", c.TargetBusNr ?? 254),
            _ => throw VireoException.Unsupported($"PCI controller model '{c.Model}' is not supported"),
        };
        if (c.Hotplug is bool hotplug)
        {
            o.Add("hotplug", hotplug);
        }
        o.Add("id", c.Alias.Length > 0 ? c.Alias : "pci." + c.Index);
        w.Device(o, c);
    }

    private static void WriteUsb(ArgvWriter w, Controller c)
    {
        string? driver = c.Model switch
        {
            "piix3-uhci" => "piix3-usb-uhci",
            "piix4-uhci" => "piix4-usb-uhci",
            "ehci" => "usb-ehci",
            "ich9-ehci1" => "ich9-usb-ehci1",
            "ich9-uhci1" => "ich9-usb-uhci1",
            "ich9-uhci2" => "ich9-usb-uhci2",
            "ich9-uhci3" => "ich9-usb-uhci3",
            "vt82c686b-uhci" => "vt82c686b-usb-uhci",
            "pci-ohci" => "pci-ohci",
            "nec-xhci" => "nec-usb-xhci",
            "qemu-xhci" => "qemu-xhci",
            "none" => null,
            _ => throw VireoException.Unsupported($"USB controller model '{c.Model}' is not supported"),
        };
        if (driver is null)
        {
            return;
        }
        var o = new QemuOpts(driver);
        if (c.Ports is int ports && c.Model is "qemu-xhci" or "nec-xhci")
        {
            o.Add("p2", ports).Add("p3", ports);
        }
        if (c.Model is "ich9-uhci1" or "ich9-uhci2" or "ich9-uhci3")
        {
            o.Add("masterbus", (c.Index == 0 ? "usb" : "usb" + c.Index) + ".0").Add("firstport", c.MasterStartPort ?? 0);
        }
        else
        {
            o.Add("id", c.Alias);
        }
        w.Device(o, c);
    }

    public static string ScsiDriver(Controller c) => c.Model switch
    {
        "virtio-scsi" or "virtio-non-transitional" => "virtio-scsi-pci",
        "virtio-transitional" => "virtio-scsi-pci-transitional",
        "lsilogic" or null => "lsi",
        "lsisas1068" => "mptsas1068",
        "lsisas1078" => "megasas",
        _ => throw VireoException.Unsupported($"SCSI controller model '{c.Model}' is not supported"),
    };
}
