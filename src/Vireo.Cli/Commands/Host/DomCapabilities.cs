using System.Xml.Linq;
using Vireo.Host.Xml;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

/// <summary>libvirt's domainCapabilities XML (domaincaps.rng) for one emulator, machine and domain type.</summary>
internal static class DomCapabilities
{
    public static Task<int> Run(CommandContext ctx)
    {
        HostHandlers.NoPositionals(ctx);
        string type = ctx.Args.Value("virttype") ?? (HostEnvironment.KvmUsable() ? "kvm" : "qemu");
        if (type is not ("qemu" or "kvm"))
        {
            throw VireoException.Invalid($"virttype '{type}' is not qemu or kvm");
        }

        if (type == "kvm" && !HostEnvironment.KvmUsable())
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"virttype 'kvm' is not usable on this host: {HostEnvironment.KvmStatus().Reason}");
        }

        string arch = ctx.Args.Value("arch") ?? "x86_64";
        if (arch != "x86_64")
        {
            throw VireoException.Unsupported($"arch '{arch}': only x86_64 guests are supported");
        }

        string emulator = ctx.Args.Value("emulatorbin") ?? HostEnvironment.Emulator;
        if (emulator != HostEnvironment.Emulator)
        {
            throw VireoException.Unsupported($"emulator '{emulator}': only {HostEnvironment.Emulator} (set VIREO_QEMU to use another)");
        }

        var machines = HostEnvironment.Machines();
        string? wanted = ctx.Args.Value("machine");
        var machine = wanted is null
            ? machines.FirstOrDefault(m => m.IsDefault) ?? machines.FirstOrDefault()
            : machines.FirstOrDefault(m => m.Name == wanted || m.Alias == wanted)
              ?? throw VireoException.Invalid($"machine type '{wanted}' is not offered by {emulator}");
        var facts = HostEnvironment.Facts();
        var models = HostEnvironment.CpuModels();
        bool kvm = type == "kvm";
        int maxVcpus = machine is null ? 1 : QemuMachineLimits.Find(machine.Name).CpuMax;
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("path", emulator);
                w.WriteString("domain", type);
                HostFactsJsonHelpers.StringOrNull(w, "machine", machine?.Name);
                w.WriteString("arch", arch);
                w.WriteNumber("maxVcpus", maxVcpus);
                w.WriteBoolean("hostPassthrough", kvm);
                w.WriteStartArray("cpuModels");
                foreach (string m in models)
                {
                    w.WriteStringValue(m);
                }

                w.WriteEndArray();
                w.WriteStartArray("hugepageSizesKiB");
                foreach (var h in facts.HugePages)
                {
                    w.WriteNumberValue(h.SizeKiB);
                }

                w.WriteEndArray();
                w.WriteBoolean("hostdevVfio", facts.Iommu.Enabled);
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        var doc = new XElement(
            "domainCapabilities",
            new XElement("path", emulator),
            new XElement("domain", type));
        if (machine is not null)
        {
            doc.Add(new XElement("machine", machine.Name));
        }

        doc.Add(new XElement("arch", arch));
        doc.Add(new XElement("vcpu", new XAttribute("max", maxVcpus)));
        doc.Add(new XElement("iothreads", new XAttribute("supported", "yes")));
        doc.Add(new XElement(
            "os",
            new XAttribute("supported", "yes"),
            Enum("firmware", "bios", "efi"),
            new XElement("loader", new XAttribute("supported", "yes"), Enum("type", "rom", "pflash"), Enum("readonly", "yes", "no"))));
        var custom = new XElement("mode", new XAttribute("name", "custom"), new XAttribute("supported", "yes"));
        foreach (string m in models)
        {
            custom.Add(new XElement("model", new XAttribute("usable", kvm ? "unknown" : "yes"), new XAttribute("vendor", "unknown"), m));
        }

        doc.Add(new XElement(
            "cpu",
            new XElement("mode", new XAttribute("name", "host-passthrough"), new XAttribute("supported", kvm ? "yes" : "no")),
            new XElement("mode", new XAttribute("name", "maximum"), new XAttribute("supported", "yes")),
            new XElement("mode", new XAttribute("name", "host-model"), new XAttribute("supported", "no")),
            custom));
        var sources = new List<string> { "anonymous", "memfd" };
        if (facts.HugePages.Count > 0)
        {
            sources.Insert(0, "file");
        }

        doc.Add(new XElement("memoryBacking", new XAttribute("supported", "yes"), Enum("sourceType", [.. sources])));
        doc.Add(new XElement(
            "devices",
            new XElement("disk", new XAttribute("supported", "yes"), Enum("diskDevice", "disk", "cdrom"), Enum("bus", "ide", "sata", "scsi", "virtio"), Enum("model", "virtio")),
            new XElement(
                "hostdev",
                new XAttribute("supported", facts.Iommu.Enabled ? "yes" : "no"),
                Enum("mode", "subsystem"),
                Enum("startupPolicy", "default", "mandatory", "requisite", "optional"),
                Enum("subsysType", "pci"),
                Enum("capsType"),
                Enum("pciBackend", facts.Iommu.Enabled ? ["vfio"] : []))));
        ctx.Out.Write(LibvirtXml.Format(doc));
        return Task.FromResult(0);
    }

    private static XElement Enum(string name, params string[] values) =>
        new("enum", new XAttribute("name", name), values.Select(v => new XElement("value", v)));
}
