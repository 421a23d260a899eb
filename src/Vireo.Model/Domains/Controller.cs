using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>A <c>&lt;controller&gt;</c>: PCI/PCIe topology, USB, IDE, SATA, SCSI, virtio-serial, FDC.</summary>
public sealed record Controller
{
    /// <summary><c>pci</c>, <c>usb</c>, <c>ide</c>, <c>sata</c>, <c>scsi</c>, <c>virtio-serial</c>, <c>fdc</c>, <c>ccid</c>.</summary>
    public required string Type { get; init; }
    /// <summary>The controller index; assigned (next free per type) at parse when the XML omits it.</summary>
    public int Index { get; init; }
    public string? Model { get; init; }
    /// <summary>The QEMU device behind a PCI controller model (<c>&lt;model name&gt;</c>), e.g. pcie-root-port, i82801b11-bridge.</summary>
    public string? ModelName { get; init; }
    public int? TargetChassis { get; init; }
    public int? TargetPort { get; init; }
    public int? TargetBusNr { get; init; }
    public int? TargetChassisNr { get; init; }
    public bool? Hotplug { get; init; }
    public int? Ports { get; init; }
    public int? Vectors { get; init; }
    public int? MaxPorts { get; init; }
    public int? Queues { get; init; }
    public int? IoThread { get; init; }
    /// <summary>USB companion controllers: the master's startport.</summary>
    public int? MasterStartPort { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    public bool IsPciRoot => Type == "pci" && Model is "pci-root" or "pcie-root";

    internal static Controller Parse(XmlCursor c)
    {
        string type = c.OneOf("type", "pci", "usb", "ide", "sata", "scsi", "virtio-serial", "fdc", "ccid", "isa") ?? throw VireoException.Invalid("<controller> is missing 'type'");
        string? model = c.Attr("model");
        string? allowed = type switch
        {
            "pci" => "pci-root pcie-root pci-bridge dmi-to-pci-bridge pcie-root-port pcie-switch-upstream-port pcie-switch-downstream-port pci-expander-bus pcie-expander-bus pcie-to-pci-bridge",
            "usb" => "piix3-uhci piix4-uhci ehci ich9-ehci1 ich9-uhci1 ich9-uhci2 ich9-uhci3 vt82c686b-uhci pci-ohci nec-xhci qemu-xhci none default",
            "scsi" => "virtio-scsi lsilogic lsisas1068 lsisas1078 virtio-transitional virtio-non-transitional auto buslogic",
            _ => null,
        };
        if (model is not null && allowed is not null && !allowed.Split(' ').Contains(model))
        {
            throw VireoException.Unsupported($"unsupported value '{model}' for <controller type='{type}' model>");
        }
        if (type == "pci" && model is null)
        {
            throw VireoException.Invalid("<controller type='pci'> needs a model (pci-root, pcie-root, pcie-root-port, ...)");
        }
        XmlCursor? modelElement = c.Child("model");
        XmlCursor? target = c.Child("target");
        XmlCursor? driver = c.Child("driver");
        XmlCursor? master = c.Child("master");
        var ctl = new Controller
        {
            Type = type,
            Index = c.IntAttr("index") ?? -1,
            Model = model,
            ModelName = modelElement?.Attr("name"),
            TargetChassis = target?.IntAttrAnyBase("chassis"),
            TargetPort = target?.IntAttrAnyBase("port"),
            TargetBusNr = target?.IntAttr("busNr"),
            TargetChassisNr = target?.IntAttr("chassisNr"),
            Hotplug = target?.YesNo("hotplug"),
            Ports = c.IntAttr("ports"),
            Vectors = c.IntAttr("vectors"),
            MaxPorts = c.IntAttr("maxPorts"),
            Queues = driver?.IntAttr("queues"),
            IoThread = driver?.IntAttr("iothread"),
            MasterStartPort = master?.IntAttr("startport"),
            Address = DeviceAddress.Parse(c),
        };
        if (ctl.Index < -1)
        {
            throw VireoException.Invalid($"<controller type='{type}' index='{ctl.Index}'> must not be negative");
        }
        modelElement?.Leftovers();
        target?.Leftovers();
        driver?.Leftovers();
        master?.Leftovers();
        return ctl with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("controller", new XAttribute("type", Type), new XAttribute("index", XmlOut.Text(Index))).Attr("model", Model)
            .Attr("ports", Ports).Attr("vectors", Vectors).Attr("maxPorts", MaxPorts);
        if (ModelName is not null)
        {
            e.Add(new XElement("model", new XAttribute("name", ModelName)));
        }
        if (Queues is not null || IoThread is not null)
        {
            e.Add(new XElement("driver").Attr("queues", Queues).Attr("iothread", IoThread));
        }
        if (MasterStartPort is int sp)
        {
            e.Add(new XElement("master").Attr("startport", sp));
        }
        if (TargetChassis is not null || TargetPort is not null || TargetBusNr is not null || TargetChassisNr is not null || Hotplug is not null)
        {
            e.Add(new XElement("target").Attr("chassisNr", TargetChassisNr).Attr("chassis", TargetChassis)
                .Attr("port", TargetPort is int p ? "0x" + p.ToString("x", System.Globalization.CultureInfo.InvariantCulture) : null)
                .Attr("busNr", TargetBusNr).OnOff("hotplug", Hotplug));
        }
        e.Child(Address?.ToXml());
        return e.With(Extra);
    }
}
