using Vireo.Model.Domains;
using Vireo.Qemu.Argv;

namespace Vireo.Qemu.Hotplug;

/// <summary>
/// Makes a definition's PCI layout explicit before it runs, as libvirt's live XML is: the implicit controllers
/// (root bus, USB, SATA, the root ports the plan adds) become real <c>&lt;controller&gt;</c>s, every PCI device gets its
/// <c>&lt;address&gt;</c>, and each NIC keeps its QEMU id in <c>&lt;alias&gt;</c>. A device hot-plugged later then cannot
/// move the ones already in the guest, and q35 gets spare root ports, since root ports cannot be hot-plugged.
/// </summary>
public static class DeviceLayout
{
    /// <summary>Free pcie-root-ports a q35 domain starts with (virt-install gives a fresh guest about this many).</summary>
    public const int SpareRootPorts = 4;

    public static DomainDefinition Materialize(DomainDefinition def, int spareRootPorts = SpareRootPorts)
    {
        ArgumentNullException.ThrowIfNull(def);
        DomainDefinition pinned = Pin(def);
        if (!pinned.Os.IsQ35)
        {
            return pinned;
        }

        int free = FreeRootPorts(pinned);
        if (free >= spareRootPorts)
        {
            return pinned;
        }

        var controllers = pinned.Devices.Controllers.ToList();
        int next = controllers.Where(c => c.Type == "pci").Select(c => c.Index).DefaultIfEmpty(0).Max() + 1;
        for (int i = free; i < spareRootPorts; i++, next++)
        {
            controllers.Add(new Controller { Type = "pci", Index = next, Model = "pcie-root-port", ModelName = "pcie-root-port", Alias = "pci." + next });
        }

        return Pin(pinned with { Devices = pinned.Devices with { Controllers = controllers } });
    }

    /// <summary>Root ports (and switch downstream ports) with nothing plugged into them.</summary>
    public static int FreeRootPorts(DomainDefinition def)
    {
        DomainDefinition full = ImplicitDevices.Expand(def);
        var plan = PciPlan.Create(full);
        var usedBuses = PciOwners(full).Select(o => plan.AddressOf(o)?.Bus ?? -1).ToHashSet();
        return plan.Controllers.Count(c => c.Model is "pcie-root-port" or "pcie-switch-downstream-port" && !usedBuses.Contains(c.Index));
    }

    /// <summary>Every PCI device at an explicit address, implicit controllers made explicit, NICs with their MAC and id.</summary>
    public static DomainDefinition Pin(DomainDefinition def)
    {
        ArgumentNullException.ThrowIfNull(def);
        DomainDefinition full = ImplicitDevices.Expand(def);
        var plan = PciPlan.Create(full);
        DomainDevices d = full.Devices;
        DeviceAddress? A(object o, DeviceAddress? current) => current ?? plan.AddressOf(o);

        // The plan's own controllers (root ports, bridges) join the user's, in index order as libvirt lists them.
        var controllers = d.Controllers.Select(c => c with { Address = A(c, c.Address) }).ToList();
        foreach (Controller added in plan.Controllers.Where(pc => !d.Controllers.Any(c => c.Type == "pci" && c.Index == pc.Index)))
        {
            controllers.Add(added with { Address = A(added, added.Address) });
        }

        controllers = [.. controllers.OrderBy(c => c.Type == "pci" ? 0 : 1).ThenBy(c => c.Type, StringComparer.Ordinal).ThenBy(c => c.Index)];
        return full with
        {
            Devices = d with
            {
                Controllers = controllers,
                Disks = d.Disks.Select(x => x.Address is null && plan.AddressOf(x) is { } a ? x with { Address = a } : x).ToList(),
                Interfaces = d.Interfaces.Select((x, i) => x with
                {
                    Address = A(x, x.Address),
                    UserAlias = x.UserAlias ?? x.Alias,
                    Mac = x.Mac ?? (x.Type == "hostdev" ? null : NetArgs.DefaultMac(full, i)),
                }).ToList(),
                Sounds = d.Sounds.Select(x => x with { Address = A(x, x.Address) }).ToList(),
                Hostdevs = d.Hostdevs.Select(x => x with { Address = A(x, x.Address) }).ToList(),
                MemBalloon = d.MemBalloon is { } b ? b with { Address = A(b, b.Address) } : null,
                Rngs = d.Rngs.Select(x => x with { Address = A(x, x.Address) }).ToList(),
                Watchdogs = d.Watchdogs.Select(x => x with { Address = A(x, x.Address) }).ToList(),
                Videos = d.Videos.Select(x => x with { Address = A(x, x.Address) }).ToList(),
                Inputs = d.Inputs.Select(x => x with { Address = A(x, x.Address) }).ToList(),
            },
        };
    }

    private static IEnumerable<object> PciOwners(DomainDefinition full)
    {
        DomainDevices d = full.Devices;
        IEnumerable<object> all = [.. d.Disks, .. d.Interfaces, .. d.Sounds, .. d.Hostdevs, .. d.Rngs, .. d.Watchdogs, .. d.Videos, .. d.Inputs, .. d.Controllers];
        return d.MemBalloon is null ? all : all.Append(d.MemBalloon);
    }
}
