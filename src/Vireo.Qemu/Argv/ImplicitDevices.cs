using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// The devices libvirt adds to a definition on its own — root PCI bus, default USB controller, the chipset's IDE or
/// SATA controller, virtio-serial and SCSI controllers that devices need, the balloon, the serial port behind a
/// compat console — so that a domain XML written for libvirt gets the same virtual hardware here.
/// </summary>
public static class ImplicitDevices
{
    /// <summary>Returns <paramref name="def"/> with libvirt's implicit devices added (idempotent).</summary>
    public static DomainDefinition Expand(DomainDefinition def)
    {
        bool q35 = def.Os.IsQ35;
        DomainDevices d = def.Devices;
        var controllers = d.Controllers.Select(c => WithDefaultModel(c, q35)).ToList();

        void AddController(string type, int index, string? model)
        {
            if (!controllers.Exists(c => c.Type == type && c.Index == index))
            {
                controllers.Add(WithAlias(new Controller { Type = type, Index = index, Model = model }, q35));
            }
        }

        AddController("pci", 0, q35 ? "pcie-root" : "pci-root");
        if (!controllers.Exists(c => c.Type == "usb"))
        {
            AddController("usb", 0, q35 ? "qemu-xhci" : "piix3-uhci");
        }
        if (q35)
        {
            AddController("sata", 0, null);
        }
        else
        {
            AddController("ide", 0, null);
        }
        foreach (Disk disk in d.Disks)
        {
            int controller = disk.Address?.Controller ?? 0;
            switch (disk.Bus)
            {
                case "scsi":
                    AddController("scsi", controller, "lsilogic");
                    break;
                case "sata":
                    AddController("sata", controller, null);
                    break;
                case "ide":
                    AddController("ide", controller, null);
                    break;
                case "fdc":
                    AddController("fdc", 0, null);
                    break;
            }
        }
        bool needsVirtioSerial = d.Channels.Any(c => c.TargetType == "virtio") || d.Consoles.Any(c => c.TargetType == "virtio");
        if (needsVirtioSerial)
        {
            foreach (int index in d.Channels.Concat(d.Consoles).Where(c => c.TargetType == "virtio")
                .Select(c => c.Address?.Controller ?? 0).Distinct())
            {
                AddController("virtio-serial", index, null);
            }
        }

        var serials = d.Serials.ToList();
        var consoles = d.Consoles.ToList();
        if (serials.Count == 0 && consoles.Count > 0 && consoles[0].IsSerialConsole)
        {
            // libvirt's compat console: a serial-type console with no <serial> is really serial port 0.
            CharDevice c = consoles[0];
            serials.Add(c with { Kind = "serial", TargetType = "isa-serial", TargetPort = 0, Alias = "serial0" });
            consoles[0] = c with { TargetType = "serial", TargetPort = 0, Alias = "serial0" };
        }

        MemBalloon? balloon = d.MemBalloon ?? new MemBalloon { Model = "virtio" };
        var videos = d.Videos.ToList();
        if (videos.Count == 0 && d.Graphics.Count > 0)
        {
            videos.Add(new VideoDevice { Model = "vga", Alias = "video0" });
        }

        return def with
        {
            Devices = d with
            {
                Controllers = controllers,
                Serials = serials,
                Consoles = consoles,
                MemBalloon = balloon,
                Videos = videos,
            },
        };
    }

    private static Controller WithDefaultModel(Controller c, bool q35) => c.Type switch
    {
        "usb" when c.Model is null or "default" => c with { Model = q35 ? "qemu-xhci" : "piix3-uhci" },
        "scsi" when c.Model is null or "auto" => c with { Model = "lsilogic" },
        _ => c,
    };

    private static Controller WithAlias(Controller c, bool q35) => c with
    {
        Alias = c.Type switch
        {
            "pci" => c.Index == 0 ? (q35 ? "pcie.0" : "pci.0") : "pci." + c.Index,
            "usb" => c.Index == 0 ? "usb" : "usb" + c.Index,
            "ide" => c.Index == 0 ? "ide" : "ide" + c.Index,
            _ => c.Type + c.Index,
        },
    };
}
