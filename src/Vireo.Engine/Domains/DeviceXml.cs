using System.Xml.Linq;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Engine.Domains;

/// <summary>
/// A device given as XML (<c>attach-device FILE</c>): parsed through the full domain parser, so it gets the same
/// validation, defaults and alias it would have had in the domain's own XML.
/// </summary>
internal static class DeviceXml
{
    private static readonly string[] Supported = ["disk", "interface", "hostdev", "controller"];

    public static XElement ParseElement(string xml)
    {
        XDocument doc = SafeXml.Parse(xml, "device XML");
        XElement e = doc.Root ?? throw VireoException.Invalid("device XML has no root element");
        if (!Supported.Contains(e.Name.LocalName))
        {
            throw VireoException.Unsupported($"device <{e.Name.LocalName}> cannot be attached or detached; supported: {string.Join(", ", Supported.Select(s => "<" + s + ">"))}");
        }

        return e;
    }

    /// <summary>The definition with <paramref name="device"/> added after the last device of its kind.</summary>
    public static DomainDefinition Insert(DomainDefinition def, XElement device)
    {
        XDocument doc = XDocument.Parse(def.ToXml());
        XElement devices = doc.Root!.Element("devices") ?? new XElement("devices");
        if (devices.Parent is null)
        {
            doc.Root.Add(devices);
        }

        XElement copy = new(device);
        XElement? last = devices.Elements(device.Name).LastOrDefault();
        if (last is not null)
        {
            last.AddAfterSelf(copy);
        }
        else
        {
            devices.Add(copy);
        }

        return DomainDefinition.Parse(doc.ToString());
    }

    /// <summary>The device on its own, parsed inside a minimal domain (for matching on detach and update).</summary>
    public static DomainDevices ParseAlone(XElement device, bool q35)
    {
        string machine = q35 ? "q35" : "pc";
        var doc = new XElement("domain", new XAttribute("type", "qemu"),
            new XElement("name", "device-probe"),
            new XElement("memory", "65536"),
            new XElement("os", new XElement("type", new XAttribute("machine", machine), "hvm")),
            new XElement("devices", new XElement(device)));
        return DomainDefinition.Parse(doc.ToString()).Devices;
    }

    /// <summary>The running definition's device that <paramref name="probe"/> names, as libvirt matches on detach.</summary>
    public static object? Find(DomainDevices devices, DomainDevices probe)
    {
        if (probe.Disks.Count == 1)
        {
            Disk p = probe.Disks[0];
            return devices.Disks.FirstOrDefault(d => d.TargetDev == p.TargetDev);
        }

        if (probe.Interfaces.Count == 1)
        {
            NetInterface p = probe.Interfaces[0];
            var candidates = devices.Interfaces.Where(i => p.Mac is null || string.Equals(i.Mac, p.Mac, StringComparison.OrdinalIgnoreCase)).ToList();
            if (p.Mac is null && candidates.Count > 1)
            {
                throw VireoException.Invalid("the domain has several interfaces; give <mac address> to say which one to detach");
            }

            return candidates.FirstOrDefault();
        }

        if (probe.Hostdevs.Count == 1)
        {
            HostdevDevice p = probe.Hostdevs[0];
            return devices.Hostdevs.FirstOrDefault(h => h.SourceAddress.PciText() == p.SourceAddress.PciText());
        }

        if (probe.Controllers.Count == 1)
        {
            Controller p = probe.Controllers[0];
            return devices.Controllers.FirstOrDefault(c => c.Type == p.Type && c.Index == p.Index);
        }

        return null;
    }

    public static string Describe(DomainDevices probe) =>
        probe.Disks.Count == 1 ? $"disk with target '{probe.Disks[0].TargetDev}'"
        : probe.Interfaces.Count == 1 ? $"interface with MAC '{probe.Interfaces[0].Mac ?? "(any)"}'"
        : probe.Hostdevs.Count == 1 ? $"hostdev with source {probe.Hostdevs[0].SourceAddress.PciText()}"
        : "matching controller";

    public static string AliasOf(object device) => device switch
    {
        Disk d => d.Alias,
        NetInterface n => n.Alias,
        HostdevDevice h => h.Alias,
        Controller c => c.Alias,
        _ => "",
    };

    /// <summary>The definition without <paramref name="device"/> (matched by reference).</summary>
    public static DomainDefinition Remove(DomainDefinition def, object device)
    {
        DomainDevices d = def.Devices;
        return def with
        {
            Devices = d with
            {
                Disks = d.Disks.Where(x => !ReferenceEquals(x, device)).ToList(),
                Interfaces = d.Interfaces.Where(x => !ReferenceEquals(x, device)).ToList(),
                Hostdevs = d.Hostdevs.Where(x => !ReferenceEquals(x, device)).ToList(),
                Controllers = d.Controllers.Where(x => !ReferenceEquals(x, device)).ToList(),
            },
        };
    }

    /// <summary>The definition with <paramref name="device"/> replaced by <paramref name="replacement"/>.</summary>
    public static DomainDefinition Replace(DomainDefinition def, object device, object replacement)
    {
        DomainDevices d = def.Devices;
        return def with
        {
            Devices = d with
            {
                Disks = d.Disks.Select(x => ReferenceEquals(x, device) ? (Disk)replacement : x).ToList(),
                Interfaces = d.Interfaces.Select(x => ReferenceEquals(x, device) ? (NetInterface)replacement : x).ToList(),
            },
        };
    }
}
