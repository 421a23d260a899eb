using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>The assignment itself, in libvirt's order (qemuDomainAssignDevicePCISlots).</summary>
internal sealed partial class PciPlan
{
    /// <summary>Whether an endpoint can sit in a PCIe root port (else it needs a conventional PCI slot).</summary>
    private enum Slot
    {
        Pcie,
        Pci,
    }

    private readonly List<(object Owner, Slot Kind)> _wanted = [];

    public static PciPlan Create(DomainDefinition def)
    {
        var plan = new PciPlan(def.Os.IsQ35);
        plan._controllers.AddRange(def.Devices.Controllers.Where(c => c.Type == "pci"));
        plan.ReserveExplicit(def);
        plan.ReserveChipset(def);
        plan.CollectWanted(def);
        plan.AssignControllers();
        plan.AssignEndpoints();
        return plan;
    }

    private void ReserveExplicit(DomainDefinition def)
    {
        foreach ((object owner, DeviceAddress? a) in AllDevices(def))
        {
            if (a is { IsPci: true })
            {
                Reserve(owner, a);
            }
        }
    }

    private static IEnumerable<(object, DeviceAddress?)> AllDevices(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        foreach (Controller c in d.Controllers)
        {
            yield return (c, c.Address);
        }
        foreach (NetInterface n in d.Interfaces)
        {
            yield return (n, n.Address);
        }
        foreach (SoundDevice s in d.Sounds)
        {
            yield return (s, s.Address);
        }
        foreach (Disk x in d.Disks)
        {
            yield return (x, x.Address);
        }
        foreach (HostdevDevice h in d.Hostdevs)
        {
            yield return (h, h.Address);
        }
        if (d.MemBalloon is not null)
        {
            yield return (d.MemBalloon, d.MemBalloon.Address);
        }
        foreach (RngDevice r in d.Rngs)
        {
            yield return (r, r.Address);
        }
        foreach (WatchdogDevice w in d.Watchdogs)
        {
            yield return (w, w.Address);
        }
        foreach (VideoDevice v in d.Videos)
        {
            yield return (v, v.Address);
        }
        foreach (InputDevice i in d.Inputs)
        {
            yield return (i, i.Address);
        }
    }

    /// <summary>The chipset's fixed functions and the primary video slot.</summary>
    private void ReserveChipset(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        if (!_q35)
        {
            _used.Add((0, 0, 0));
            _used.Add((0, 1, 0));
            _used.Add((0, 1, 1));
            _used.Add((0, 1, 3));
            foreach (Controller c in d.Controllers)
            {
                if (c is { Type: "usb", Index: 0, Model: "piix3-uhci" } && c.Address is null)
                {
                    Reserve(c, DeviceAddress.Pci(0, 1, 2));
                }
                else if (c is { Type: "ide", Index: 0 })
                {
                    _addresses[c] = DeviceAddress.Pci(0, 1, 1);
                }
            }
            ReservePrimaryVideo(d, 2);
            return;
        }

        _used.Add((0, 0, 0));
        foreach (Controller c in d.Controllers)
        {
            if (c is { Type: "sata", Index: 0 } && c.Address is null)
            {
                Reserve(c, DeviceAddress.Pci(0, 0x1f, 2));
            }
            else if (c is { Type: "pci", Model: "dmi-to-pci-bridge" } && c.Address is null && Free(0, 0x1e, 0))
            {
                Reserve(c, DeviceAddress.Pci(0, 0x1e, 0));
            }
            else if (c is { Type: "usb", Model: "ich9-uhci1" } && c.Address is null)
            {
                int slot = Free(0, 0x1d, 0) ? 0x1d : 0x1a;
                Reserve(c, DeviceAddress.Pci(0, slot, 0, true));
            }
        }
        _used.Add((0, 0x1f, 0));
        _used.Add((0, 0x1f, 3));
        ReservePrimaryVideo(d, 1);
        if (Free(0, 0x1b, 0) && d.Sounds.FirstOrDefault(s => s.Model == "ich9" && s.Address is null) is SoundDevice ich9)
        {
            Reserve(ich9, DeviceAddress.Pci(0, 0x1b, 0));
        }
    }

    private void ReservePrimaryVideo(DomainDevices d, int slot)
    {
        if (d.Videos.Count > 0 && d.Videos[0] is { Model: not ("none" or "ramfb"), Address: null } primary && Free(0, slot, 0))
        {
            Reserve(primary, DeviceAddress.Pci(0, slot, 0));
        }
    }

    private void CollectWanted(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        void Want(object owner, Slot kind)
        {
            if (!_addresses.ContainsKey(owner))
            {
                _wanted.Add((owner, kind));
            }
        }

        foreach (NetInterface n in d.Interfaces)
        {
            if (n.Type != "hostdev")
            {
                Want(n, n.Model is null or "virtio" or "virtio-non-transitional" or "e1000e" or "igb" ? Slot.Pcie : Slot.Pci);
            }
        }
        foreach (SoundDevice s in d.Sounds)
        {
            if (s.Model is not ("sb16" or "usb"))
            {
                Want(s, s.Model == "ich9" ? Slot.Pcie : Slot.Pci);
            }
        }
        foreach (Controller c in d.Controllers)
        {
            bool pci = c.Type switch
            {
                "usb" => c.Model is not ("none" or null),
                "scsi" or "virtio-serial" => true,
                "sata" => !_q35 || c.Index > 0,
                "ide" => c.Index > 0,
                _ => false,
            };
            if (pci)
            {
                bool pcie = c.Model is "qemu-xhci" or "nec-xhci" or "virtio-scsi" or "lsisas1078" || c.Type is "virtio-serial" or "sata";
                Want(c, pcie ? Slot.Pcie : Slot.Pci);
            }
        }
        foreach (Disk x in d.Disks.Where(x => x.Bus == "virtio"))
        {
            Want(x, Slot.Pcie);
        }
        foreach (NetInterface n in d.Interfaces.Where(n => n.Type == "hostdev"))
        {
            Want(n, Slot.Pcie);
        }
        foreach (HostdevDevice h in d.Hostdevs)
        {
            Want(h, Slot.Pcie);
        }
        if (d.MemBalloon is { Model: not "none" } b)
        {
            Want(b, Slot.Pcie);
        }
        foreach (RngDevice r in d.Rngs)
        {
            Want(r, Slot.Pcie);
        }
        foreach (WatchdogDevice w in d.Watchdogs.Where(w => w.Model == "i6300esb"))
        {
            Want(w, Slot.Pci);
        }
        foreach (VideoDevice v in d.Videos.Where(v => v.Model is not ("none" or "ramfb")))
        {
            Want(v, v.Model == "virtio" ? Slot.Pcie : Slot.Pci);
        }
        foreach (InputDevice i in d.Inputs.Where(i => i.Bus == "virtio"))
        {
            Want(i, Slot.Pcie);
        }
        // Fix pci-serial and others are ISA here.
    }

    /// <summary>PCI controllers the user wrote first, then (q35) the root ports and bridge the endpoints need.</summary>
    private void AssignControllers()
    {
        if (_q35)
        {
            int freePorts = _controllers.Count(c => c.Model is "pcie-root-port" or "pcie-switch-downstream-port");
            int pcieNeeded = _wanted.Count(w => w.Kind == Slot.Pcie);
            bool needsPciBus = _wanted.Exists(w => w.Kind == Slot.Pci) && !_controllers.Exists(c => c.Model is "pci-bridge" or "pcie-to-pci-bridge");
            int needed = pcieNeeded + (needsPciBus ? 1 : 0) - freePorts;
            if (needed > 0)
            {
                // Like libvirt, one spare root port beyond what the devices need, so one device can be hotplugged.
                for (int i = 0; i <= needed; i++)
                {
                    int index = NextControllerIndex();
                    _controllers.Add(new Controller { Type = "pci", Index = index, Model = "pcie-root-port", ModelName = "pcie-root-port", Alias = "pci." + index });
                }
            }
            if (needsPciBus)
            {
                int index = NextControllerIndex();
                var bridge = new Controller { Type = "pci", Index = index, Model = "pcie-to-pci-bridge", ModelName = "pcie-pci-bridge", Alias = "pci." + index };
                _controllers.Add(bridge);
            }
        }

        foreach (Controller c in _controllers.OrderBy(c => c.Index).ToList())
        {
            if (c.IsPciRoot || _addresses.ContainsKey(c))
            {
                continue;
            }
            switch (c.Model)
            {
                case "pcie-root-port" when _q35:
                    PlaceAggregated(c);
                    break;
                case "pcie-to-pci-bridge" or "pcie-switch-upstream-port":
                    Reserve(c, NextPcieSlot());
                    break;
                case "pci-bridge":
                    Reserve(c, NextPciSlot(allowRoot: !_q35));
                    break;
                default:
                    Reserve(c, NextRootSlot());
                    break;
            }
        }
    }

    private void AssignEndpoints()
    {
        foreach ((object owner, Slot kind) in _wanted)
        {
            if (!_q35)
            {
                Reserve(owner, NextPciSlot(allowRoot: true));
            }
            else
            {
                Reserve(owner, kind == Slot.Pcie ? NextPcieSlot() : NextPciSlot(allowRoot: false));
            }
        }
    }

    private int NextControllerIndex() => _controllers.Count == 0 ? 1 : Math.Max(1, _controllers.Max(c => c.Index) + 1);

    /// <summary>Root ports fill the functions of one slot on pcie.0 before moving to the next slot.</summary>
    private void PlaceAggregated(Controller port)
    {
        for (int slot = 1; slot < 32; slot++)
        {
            for (int fn = 0; fn < 8; fn++)
            {
                // Only aggregate into an empty slot or one that holds root ports already.
                bool slotIsPorts = _addresses.Any(kv => kv.Key is Controller { Model: "pcie-root-port" } && kv.Value.Bus == 0 && kv.Value.Slot == slot);
                if (fn == 0 && !Free(0, slot, 0) && !slotIsPorts)
                {
                    break;
                }
                if (!Free(0, slot, fn))
                {
                    continue;
                }
                Reserve(port, DeviceAddress.Pci(0, slot, fn, fn == 0 ? true : null));
                return;
            }
        }
        throw new VireoException(ErrorKind.InvalidArgument, "no free slot on pcie.0 for another pcie-root-port");
    }

    private DeviceAddress NextRootSlot()
    {
        for (int slot = 1; slot < 32; slot++)
        {
            if (SlotFree(0, slot))
            {
                return DeviceAddress.Pci(0, slot);
            }
        }
        throw VireoException.Invalid("the root PCI bus is full; add a pci-bridge controller");
    }

    /// <summary>The next empty root port or downstream port (each has one slot, 0).</summary>
    private DeviceAddress NextPcieSlot()
    {
        foreach (Controller c in _controllers.OrderBy(c => c.Index))
        {
            if (c.Model is "pcie-root-port" or "pcie-switch-downstream-port" && SlotFree(c.Index, 0))
            {
                return DeviceAddress.Pci(c.Index, 0);
            }
        }
        throw VireoException.Invalid("no free PCIe root port for another device; add <controller type='pci' model='pcie-root-port'/>");
    }

    /// <summary>The next slot on a conventional PCI bus: pci.0 on pc, then pci-bridges and pcie-to-pci-bridges.</summary>
    private DeviceAddress NextPciSlot(bool allowRoot)
    {
        if (allowRoot)
        {
            for (int slot = 1; slot < 32; slot++)
            {
                if (SlotFree(0, slot))
                {
                    return DeviceAddress.Pci(0, slot);
                }
            }
        }
        foreach (Controller c in _controllers.OrderBy(c => c.Index))
        {
            int first = c.Model switch
            {
                "pci-bridge" => 1,
                "pcie-to-pci-bridge" => 1,
                "dmi-to-pci-bridge" => 0,
                _ => -1,
            };
            if (first < 0)
            {
                continue;
            }
            for (int slot = first; slot < 32; slot++)
            {
                if (SlotFree(c.Index, slot))
                {
                    return DeviceAddress.Pci(c.Index, slot);
                }
            }
        }
        throw VireoException.Invalid("no free conventional PCI slot; add a pci-bridge controller");
    }

    private bool SlotFree(int bus, int slot)
    {
        for (int fn = 0; fn < 8; fn++)
        {
            if (_used.Contains((bus, slot, fn)))
            {
                return false;
            }
        }
        return true;
    }
}
