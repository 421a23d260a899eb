using System.Globalization;
using System.Xml.Linq;
using Vireo.Model;

namespace Vireo.Host.Xml;

/// <summary>One node device as libvirt names and nests them: <c>computer</c> at the root, then PCI, net, storage.</summary>
public sealed record NodeDevice(string Name, string Capability, string? Parent, string? SysfsPath);

/// <summary>libvirt's node device list (nodedev-list) and XML (nodedev-dumpxml, nodedev.rng) from host facts.</summary>
public static class NodeDevices
{
    public const string Computer = "computer";

    public static readonly IReadOnlyList<string> Capabilities = ["system", "pci", "net", "storage"];

    /// <summary>Every device, sorted by name as virsh prints them.</summary>
    public static IReadOnlyList<NodeDevice> List(HostRoot root, HostFacts facts)
    {
        var list = new List<NodeDevice> { new(Computer, "system", null, null) };
        foreach (var p in facts.PciDevices)
        {
            string? path = root.ResolveLink($"/sys/bus/pci/devices/{p.Address}");
            list.Add(new NodeDevice(p.Name, "pci", PciParent(path, p.Address), path));
        }

        foreach (var n in facts.NetDevices)
        {
            list.Add(new NodeDevice(n.NodeDeviceName, "net", n.Parent?.NodeDeviceName ?? Computer, root.ResolveLink($"/sys/class/net/{n.Name}")));
        }

        foreach (var b in facts.BlockDevices)
        {
            list.Add(new NodeDevice(b.NodeDeviceName, "storage", b.Parent?.NodeDeviceName ?? Computer, root.ResolveLink($"/sys/class/block/{b.Name}")));
        }

        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    public static NodeDevice Find(IReadOnlyList<NodeDevice> devices, string name) =>
        devices.FirstOrDefault(d => d.Name == name)
        ?? (PciAddress.TryParse(name) is PciAddress a ? devices.FirstOrDefault(d => d.Name == a.NodeDeviceName) : null)
        ?? throw VireoException.NotFound($"node device '{name}' not found");

    public static string DumpXml(HostRoot root, HostFacts facts, NodeDevice device) => LibvirtXml.Format(Build(root, facts, device));

    public static XElement Build(HostRoot root, HostFacts facts, NodeDevice device)
    {
        var el = new XElement("device", LibvirtXml.Text("name", device.Name));
        if (device.SysfsPath is not null)
        {
            el.Add(LibvirtXml.Text("path", device.SysfsPath));
        }

        if (device.Parent is not null)
        {
            el.Add(LibvirtXml.Text("parent", device.Parent));
        }

        switch (device.Capability)
        {
            case "system":
                el.Add(System(root));
                break;
            case "pci":
                var pci = facts.PciDevices.First(p => p.Name == device.Name);
                if (pci.Driver is not null)
                {
                    el.Add(new XElement("driver", LibvirtXml.Text("name", pci.Driver)));
                }

                el.Add(Pci(root, facts, pci));
                break;
            case "net":
                var net = facts.NetDevices.First(n => n.NodeDeviceName == device.Name);
                var cap = new XElement("capability", LibvirtXml.Text("interface", net.Name)).Attr("type", "net");
                if (net.Mac is not null)
                {
                    cap.Add(LibvirtXml.Text("address", net.Mac));
                }

                string? state = net.OperState is "unknown" or "notpresent" or "down" or "lowerlayerdown" or "testing" or "dormant" or "up" ? net.OperState : null;
                cap.Add(new XElement("link").Attr("speed", net.SpeedMbps).Attr("state", state));
                cap.Add(new XElement("capability").Attr("type", "80203"));
                el.Add(cap);
                break;
            case "storage":
                var b = facts.BlockDevices.First(x => x.NodeDeviceName == device.Name);
                var st = new XElement("capability", LibvirtXml.Text("block", "/dev/" + b.Name)).Attr("type", "storage");
                st.Add(LibvirtXml.Text("drive_type", "disk"));
                if (b.Model is not null)
                {
                    st.Add(LibvirtXml.Text("model", b.Model));
                }

                if (b.Vendor is not null)
                {
                    st.Add(LibvirtXml.Text("vendor", b.Vendor));
                }

                if (b.Removable)
                {
                    st.Add(new XElement("capability", LibvirtXml.Text("media_available", b.SizeBytes > 0 ? 1 : 0), LibvirtXml.Text("media_size", b.SizeBytes)).Attr("type", "removable"));
                }
                else
                {
                    st.Add(LibvirtXml.Text("size", b.SizeBytes));
                }

                el.Add(st);
                break;
        }

        return el;
    }

    private static XElement Pci(HostRoot root, HostFacts facts, PciDevice p)
    {
        var cap = new XElement("capability").Attr("type", "pci");
        cap.Add(LibvirtXml.Text("class", $"0x{p.Class:x6}"));
        cap.Add(LibvirtXml.Text("domain", p.Address.Domain));
        cap.Add(LibvirtXml.Text("bus", p.Address.Bus));
        cap.Add(LibvirtXml.Text("slot", p.Address.Slot));
        cap.Add(LibvirtXml.Text("function", p.Address.Function));
        cap.Add(new XElement("product").Attr("id", $"0x{p.Device:x4}"));
        cap.Add(new XElement("vendor").Attr("id", $"0x{p.Vendor:x4}"));
        if (p.PhysicalFunction is PciAddress pf)
        {
            cap.Add(new XElement("capability", Address(pf)).Attr("type", "phys_function"));
        }

        if (p.Sriov is SriovFacts s)
        {
            cap.Add(new XElement("capability", s.VirtualFunctions.Select(Address)).Attr("type", "virt_functions").Attr("maxCount", s.TotalVfs));
        }

        if (p.IommuGroup is int g)
        {
            var members = root.List($"/sys/kernel/iommu_groups/{g}/devices").Select(PciAddress.TryParse).OfType<PciAddress>().Order().ToList();
            if (members.Count == 0)
            {
                members.Add(p.Address);
            }

            cap.Add(new XElement("iommuGroup", members.Select(Address)).Attr("number", g));
        }

        if (p.NumaNode >= 0)
        {
            cap.Add(new XElement("numa").Attr("node", p.NumaNode));
        }

        return cap;
    }

    private static XElement System(HostRoot root)
    {
        string? Dmi(string f) => root.ReadText($"/sys/class/dmi/id/{f}") is { Length: > 0 } v ? v : null;
        var cap = new XElement("capability").Attr("type", "system");
        if (Dmi("product_name") is string product)
        {
            cap.Add(LibvirtXml.Text("product", product));
        }

        var hw = new XElement("hardware");
        Add(hw, "vendor", Dmi("sys_vendor"));
        Add(hw, "version", Dmi("product_version"));
        Add(hw, "serial", Dmi("product_serial"));
        hw.Add(LibvirtXml.Text("uuid", HostUuid(root)));
        cap.Add(hw);
        var fw = new XElement("firmware");
        Add(fw, "vendor", Dmi("bios_vendor"));
        Add(fw, "version", Dmi("bios_version"));
        Add(fw, "release_date", Dmi("bios_date"));
        cap.Add(fw);
        return cap;
    }

    /// <summary>The DMI product uuid, else one derived from /etc/machine-id (libvirt does the same).</summary>
    public static string HostUuid(HostRoot root)
    {
        if (root.ReadText("/sys/class/dmi/id/product_uuid") is string u && Guid.TryParse(u, out var g))
        {
            return g.ToString();
        }

        string? id = root.ReadText("/etc/machine-id");
        return id is { Length: 32 } && Guid.TryParseExact(id, "N", out var m) ? m.ToString() : "00000000-0000-0000-0000-000000000000";
    }

    private static void Add(XElement e, string name, string? value)
    {
        if (value is not null)
        {
            e.Add(LibvirtXml.Text(name, value));
        }
    }

    private static XElement Address(PciAddress a) => new XElement("address")
        .Attr("domain", $"0x{a.Domain:x4}").Attr("bus", $"0x{a.Bus:x2}").Attr("slot", $"0x{a.Slot:x2}").Attr("function", $"0x{a.Function:x1}");

    private static string PciParent(string? path, PciAddress self)
    {
        var found = new List<PciAddress>();
        foreach (string part in (path ?? "").Split('/'))
        {
            if (part.Length == 12 && PciAddress.TryParse(part) is PciAddress a)
            {
                found.Add(a);
            }
        }

        int i = found.LastIndexOf(self);
        return i > 0 ? found[i - 1].NodeDeviceName : Computer;
    }

    internal static string Invariant(long v) => v.ToString(CultureInfo.InvariantCulture);
}
