using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Vireo.Host.Xml;

/// <summary>A machine type QEMU offers (<c>pc-q35-7.2</c>), and the alias that names it (<c>q35</c>).</summary>
public sealed record MachineType(string Name, string? Alias, bool IsDefault, bool Deprecated);

/// <summary>One guest section of the capabilities: an emulator binary, its machines and the domain types that work.</summary>
public sealed record GuestCapabilities(string Arch, int WordSize, string Emulator, IReadOnlyList<MachineType> Machines, IReadOnlyList<string> DomainTypes);

/// <summary>libvirt's capabilities XML (capability.rng) from host facts and the guests the caller found.</summary>
public static partial class CapabilitiesXml
{
    public static string Format(HostFacts facts, IReadOnlyList<GuestCapabilities> guests) => LibvirtXml.Format(Build(facts, guests));

    public static XElement Build(HostFacts facts, IReadOnlyList<GuestCapabilities> guests)
    {
        var caps = new XElement("capabilities", Host(facts));
        foreach (var g in guests)
        {
            caps.Add(Guest(g));
        }

        return caps;
    }

    private static XElement Host(HostFacts f)
    {
        var cpu = f.Cpu;
        var cpuEl = new XElement("cpu", LibvirtXml.Text("arch", cpu.Arch));
        if (f.Virt.Vmx || f.Virt.Svm)
        {
            cpuEl.Add(new XElement("features", new XElement(f.Virt.Vmx ? "vmx" : "svm")));
        }

        if (cpu.ModelName is not null)
        {
            cpuEl.Add(LibvirtXml.Text("model", cpu.ModelName));
        }

        if (cpu.VendorShort is not null)
        {
            cpuEl.Add(LibvirtXml.Text("vendor", cpu.VendorShort));
        }

        if (cpu.Microcode is > 0)
        {
            cpuEl.Add(new XElement("microcode").Attr("version", cpu.Microcode));
        }

        if (cpu.Family is > 0 && cpu.Model is not null && cpu.Stepping is not null)
        {
            cpuEl.Add(new XElement("signature").Attr("family", cpu.Family).Attr("model", cpu.Model).Attr("stepping", cpu.Stepping));
        }

        cpuEl.Add(new XElement("topology")
            .Attr("sockets", cpu.Sockets).Attr("dies", cpu.Dies).Attr("clusters", cpu.Clusters)
            .Attr("cores", Math.Max(1, cpu.CoresPerDie / Math.Max(1, cpu.Clusters))).Attr("threads", cpu.ThreadsPerCore));
        if (cpu.PhysicalAddressBits is int bits)
        {
            cpuEl.Add(new XElement("maxphysaddr").Attr("mode", "emulate").Attr("bits", bits));
        }

        foreach (string flag in cpu.Flags)
        {
            if (FeatureName().IsMatch(flag))
            {
                cpuEl.Add(new XElement("feature").Attr("name", flag));
            }
        }

        foreach (long size in f.PageSizesKiB)
        {
            cpuEl.Add(new XElement("pages").Attr("unit", "KiB").Attr("size", size));
        }

        var host = new XElement("host", cpuEl);
        var power = new XElement("power_management");
        if (f.Power.SuspendMem)
        {
            power.Add(new XElement("suspend_mem"));
        }

        if (f.Power.SuspendDisk)
        {
            power.Add(new XElement("suspend_disk"));
        }

        if (f.Power.SuspendHybrid)
        {
            power.Add(new XElement("suspend_hybrid"));
        }

        host.Add(power);
        host.Add(new XElement("iommu").Attr("support", f.Iommu.Enabled ? "yes" : "no"));
        host.Add(new XElement("migration_features", new XElement("live"), new XElement("uri_transports", LibvirtXml.Text("uri_transport", "tcp"), LibvirtXml.Text("uri_transport", "rdma"))));

        var cells = new XElement("cells").Attr("num", f.Cells.Count);
        foreach (var cell in f.Cells)
        {
            var c = new XElement("cell").Attr("id", cell.Id);
            c.Add(LibvirtXml.Text("memory", cell.MemoryKiB).Attr("unit", "KiB"));
            foreach (var p in cell.Pages)
            {
                c.Add(LibvirtXml.Text("pages", p.Total).Attr("unit", "KiB").Attr("size", p.SizeKiB));
            }

            if (cell.Distances.Count > 0)
            {
                c.Add(new XElement("distances", cell.Distances.Select(d => new XElement("sibling").Attr("id", d.Node).Attr("value", d.Distance))));
            }

            var cpus = new XElement("cpus").Attr("num", cell.Cpus.Count);
            foreach (int id in cell.Cpus.Ids)
            {
                var lc = cpu.Cpus.FirstOrDefault(x => x.Id == id);
                var el = new XElement("cpu").Attr("id", id);
                if (lc is { Online: true })
                {
                    el.Attr("socket_id", lc.SocketId).Attr("die_id", lc.DieId).Attr("cluster_id", lc.ClusterId)
                      .Attr("core_id", lc.CoreId).Attr("siblings", lc.Siblings.ToString());
                }

                cpus.Add(el);
            }

            c.Add(cpus);
            cells.Add(c);
        }

        host.Add(new XElement("topology", cells));
        return host;
    }

    private static XElement Guest(GuestCapabilities g)
    {
        var arch = new XElement("arch").Attr("name", g.Arch);
        arch.Add(LibvirtXml.Text("wordsize", g.WordSize));
        arch.Add(LibvirtXml.Text("emulator", g.Emulator));
        foreach (var m in g.Machines)
        {
            arch.Add(LibvirtXml.Text("machine", m.Name).Attr("deprecated", m.Deprecated ? "yes" : null));
            if (m.Alias is not null)
            {
                arch.Add(LibvirtXml.Text("machine", m.Alias).Attr("canonical", m.Name));
            }
        }

        foreach (string type in g.DomainTypes)
        {
            arch.Add(new XElement("domain").Attr("type", type));
        }

        return new XElement(
            "guest",
            LibvirtXml.Text("os_type", "hvm"),
            arch,
            new XElement(
                "features",
                new XElement("acpi").Attr("default", "on").Attr("toggle", "yes"),
                new XElement("apic").Attr("default", "on").Attr("toggle", "no"),
                new XElement("cpuselection"),
                new XElement("deviceboot"),
                new XElement("disksnapshot").Attr("default", "on").Attr("toggle", "no")));
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]+$")]
    private static partial Regex FeatureName();
}
