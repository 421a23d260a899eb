using System.Globalization;
using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// A device's <c>&lt;address&gt;</c>: PCI (domain:bus:slot.function), drive (controller/bus/target/unit),
/// virtio-serial (controller/bus/port), USB (bus/port), ISA (iobase/irq), or others kept by type name.
/// </summary>
public sealed record DeviceAddress
{
    public required string Type { get; init; }
    public int? Domain { get; init; }
    public int? Bus { get; init; }
    public int? Slot { get; init; }
    public int? Function { get; init; }
    public bool? Multifunction { get; init; }
    public int? Controller { get; init; }
    public int? Target { get; init; }
    public int? Unit { get; init; }
    /// <summary>virtio-serial port number, or the USB port path (e.g. "1" or "1.2").</summary>
    public string? Port { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    public bool IsPci => Type == "pci";

    public static DeviceAddress Pci(int bus, int slot, int function = 0, bool? multifunction = null) =>
        new() { Type = "pci", Domain = 0, Bus = bus, Slot = slot, Function = function, Multifunction = multifunction };

    public static DeviceAddress Drive(int controller, int bus, int target, int unit) =>
        new() { Type = "drive", Controller = controller, Bus = bus, Target = target, Unit = unit };

    internal static DeviceAddress? Parse(XmlCursor? parent, string? defaultType = null)
    {
        XmlCursor? c = parent?.Child("address");
        if (c is null)
        {
            return null;
        }
        string type = defaultType is null ? c.Require("type") : c.Attr("type") ?? defaultType;
        var address = new DeviceAddress
        {
            Type = type,
            Domain = c.IntAttrAnyBase("domain"),
            Bus = c.IntAttrAnyBase("bus"),
            Slot = c.IntAttrAnyBase("slot"),
            Function = c.IntAttrAnyBase("function"),
            Multifunction = c.YesNo("multifunction"),
            Controller = c.IntAttrAnyBase("controller"),
            Target = c.IntAttrAnyBase("target"),
            Unit = c.IntAttrAnyBase("unit"),
            Port = c.Attr("port"),
        };
        address = address with { Extra = c.Leftovers() };
        if (address.IsPci)
        {
            if (address.Slot is > 31 || address.Function is > 7 || address.Bus is > 255)
            {
                throw VireoException.Invalid($"PCI address {address.PciText()} in <{c.Path}> is out of range (slot 0-0x1f, function 0-7)");
            }
        }
        return address;
    }

    internal XElement ToXml()
    {
        var e = new XElement("address", new XAttribute("type", Type));
        if (IsPci)
        {
            e.Add(new XAttribute("domain", Hex(Domain ?? 0, 4)), new XAttribute("bus", Hex(Bus ?? 0, 2)),
                new XAttribute("slot", Hex(Slot ?? 0, 2)), new XAttribute("function", "0x" + (Function ?? 0).ToString("x", CultureInfo.InvariantCulture)));
            if (Multifunction is bool m)
            {
                e.Add(new XAttribute("multifunction", m ? "on" : "off"));
            }
        }
        else
        {
            Add(e, "controller", Controller);
            Add(e, "domain", Domain);
            Add(e, "bus", Bus);
            Add(e, "slot", Slot);
            Add(e, "function", Function);
            Add(e, "target", Target);
            Add(e, "unit", Unit);
            if (Port is not null)
            {
                e.Add(new XAttribute("port", Port));
            }
        }
        Extra.WriteTo(e);
        return e;
    }

    /// <summary>The PCI address as QEMU's <c>addr</c> property: <c>0x3</c> or <c>0x1.0x2</c>.</summary>
    public string QemuAddr() =>
        (Function ?? 0) == 0
            ? "0x" + (Slot ?? 0).ToString("x", CultureInfo.InvariantCulture)
            : "0x" + (Slot ?? 0).ToString("x", CultureInfo.InvariantCulture) + ".0x" + (Function ?? 0).ToString("x", CultureInfo.InvariantCulture);

    public string PciText() =>
        string.Create(CultureInfo.InvariantCulture, $"{Domain ?? 0:x4}:{Bus ?? 0:x2}:{Slot ?? 0:x2}.{Function ?? 0:x}");

    private static string Hex(int v, int width) => "0x" + v.ToString("x" + width.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static void Add(XElement e, string name, int? v)
    {
        if (v is int i)
        {
            e.Add(new XAttribute(name, i.ToString(CultureInfo.InvariantCulture)));
        }
    }
}
