using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// Where every PCI device goes: explicit <c>&lt;address&gt;</c>es are honoured, the rest get the next free slot in
/// libvirt's order so that guests see the same topology as under libvirt. On q35, endpoints go behind
/// pcie-root-ports that the plan adds, one per device, as libvirt does.
/// </summary>
internal sealed partial class PciPlan
{
    private readonly Dictionary<object, DeviceAddress> _addresses = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<(int Bus, int Slot, int Function)> _used = [];
    private readonly List<Controller> _controllers = [];
    private readonly bool _q35;

    private PciPlan(bool q35)
    {
        _q35 = q35;
    }

    /// <summary>All PCI controllers: the user's plus the ones the plan added, by index.</summary>
    public IReadOnlyList<Controller> Controllers => _controllers;

    public DeviceAddress? AddressOf(object device) => _addresses.TryGetValue(device, out DeviceAddress? a) ? a : null;

    /// <summary>The QEMU bus id of PCI bus number <paramref name="bus"/> (libvirt: the controller index).</summary>
    public string BusName(int bus) => bus == 0 ? (_q35 ? "pcie.0" : "pci.0") : "pci." + bus.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static void Place(QemuOpts opts, DeviceAddress a, PciPlan plan)
    {
        opts.Add("bus", plan.BusName(a.Bus ?? 0));
        if (a.Multifunction == true)
        {
            opts.Add("multifunction", true);
        }
        opts.Add("addr", a.QemuAddr());
    }

    private void Reserve(object owner, DeviceAddress a)
    {
        if (!_used.Add((a.Bus ?? 0, a.Slot ?? 0, a.Function ?? 0)))
        {
            throw Model.VireoException.Invalid($"PCI address {a.PciText()} is used twice");
        }
        _addresses[owner] = a;
    }

    private bool Free(int bus, int slot, int function) => !_used.Contains((bus, slot, function));
}
