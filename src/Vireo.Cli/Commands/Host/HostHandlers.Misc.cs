using System.Xml.Linq;
using Vireo.Host.Xml;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

internal static partial class HostHandlers
{
    /// <summary>TCG's limit for the i440fx machine; KVM guests are bounded by the same QEMU machine limit here.</summary>
    public static Task<int> CpuModels(CommandContext ctx)
    {
        int pos = 0;
        string arch = ctx.Args.Required("arch", ref pos, "<arch>");
        ctx.Args.NoMorePositionals(pos, "cpu-models");
        if (arch is not ("x86_64" or "i686"))
        {
            throw VireoException.Unsupported($"arch '{arch}': this host's QEMU is x86_64 (try 'cpu-models x86_64')");
        }

        var models = HostEnvironment.CpuModels();
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartArray();
                foreach (string m in models)
                {
                    w.WriteStringValue(m);
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        foreach (string m in models)
        {
            ctx.Out.WriteLine(m);
        }

        return Task.FromResult(0);
    }

    public static Task<int> MaxVcpus(CommandContext ctx)
    {
        NoPositionals(ctx);
        string type = ctx.Args.Value("type") ?? "qemu";
        if (type is not ("qemu" or "kvm"))
        {
            throw VireoException.Invalid($"domain type '{type}' is not qemu or kvm");
        }

        if (type == "kvm" && !HostEnvironment.KvmUsable())
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"domain type 'kvm' is not usable on this host: {HostEnvironment.KvmStatus().Reason}");
        }

        // QEMU's own limit for the machine type (pc: 255, q35: 288 on QEMU 7.2), as query-machines reports it.
        var machine = QemuMachineLimits.Find(ctx.Args.Value("machine"));
        int max = machine.CpuMax;
        if (type == "kvm" && HostEnvironment.Root.IsSystem && Vireo.Qemu.Kvm.KvmLimits.MaxVcpus() is int kvmMax)
        {
            // A KVM guest is also bounded by the kernel (KVM_CAP_MAX_VCPUS), as libvirt reports it.
            max = Math.Min(max, kvmMax);
        }

        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                w.WriteString("machine", machine.Name);
                w.WriteNumber("maxVcpus", max);
                w.WriteEndObject();
            });
        }
        else
        {
            ctx.Out.WriteLine(I(max));
        }

        return Task.FromResult(0);
    }

    public static Task<int> SysInfo(CommandContext ctx)
    {
        NoPositionals(ctx);
        var root = HostEnvironment.Root;
        string? Dmi(string f) => root.ReadText($"/sys/class/dmi/id/{f}") is { Length: > 0 } v ? v : null;
        var sections = new (string Section, (string Entry, string File)[] Fields)[]
        {
            ("bios", [("vendor", "bios_vendor"), ("version", "bios_version"), ("date", "bios_date"), ("release", "bios_release")]),
            ("system", [("manufacturer", "sys_vendor"), ("product", "product_name"), ("version", "product_version"), ("serial", "product_serial"), ("uuid", "product_uuid"), ("sku", "product_sku"), ("family", "product_family")]),
            ("baseBoard", [("manufacturer", "board_vendor"), ("product", "board_name"), ("version", "board_version"), ("serial", "board_serial"), ("asset", "board_asset_tag")]),
            ("chassis", [("manufacturer", "chassis_vendor"), ("version", "chassis_version"), ("serial", "chassis_serial"), ("asset", "chassis_asset_tag")]),
        };
        if (!root.Exists("/sys/class/dmi/id"))
        {
            throw new VireoException(ErrorKind.HostUnavailable, "this host exposes no SMBIOS/DMI data (/sys/class/dmi/id is absent)");
        }

        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                foreach (var (section, fields) in sections)
                {
                    w.WriteStartObject(section);
                    foreach (var (entry, file) in fields)
                    {
                        if (Dmi(file) is string v)
                        {
                            w.WriteString(entry, v);
                        }
                    }

                    w.WriteEndObject();
                }

                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        var sys = new XElement("sysinfo", new XAttribute("type", "smbios"));
        foreach (var (section, fields) in sections)
        {
            var s = new XElement(section);
            foreach (var (entry, file) in fields)
            {
                if (Dmi(file) is string v)
                {
                    s.Add(new XElement("entry", new XAttribute("name", entry), v));
                }
            }

            if (s.HasElements)
            {
                sys.Add(s);
            }
        }

        ctx.Out.Write(LibvirtXml.Format(sys));
        return Task.FromResult(0);
    }

    public static Task<int> Hostname(CommandContext ctx)
    {
        NoPositionals(ctx);
        string name = HostEnvironment.Root.ReadText("/proc/sys/kernel/hostname") ?? Environment.MachineName;
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("hostname", name);
                w.WriteEndObject();
            });
        }
        else
        {
            ctx.Out.WriteLine(name);
        }

        return Task.FromResult(0);
    }

    public static Task<int> Version(CommandContext ctx)
    {
        NoPositionals(ctx);
        string vireo = Help.Version.Split(' ')[^1];
        string? qemu = File.Exists(HostEnvironment.Emulator) ? HostEnvironment.QemuVersion() : null;
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("vireo", vireo);
                HostFactsJsonHelpers.StringOrNull(w, "hypervisor", qemu is null ? null : "QEMU " + qemu);
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        ctx.Out.WriteLine($"Compiled against library: vireo {vireo}");
        ctx.Out.WriteLine($"Using library: vireo {vireo}");
        ctx.Out.WriteLine($"Using API: QEMU {vireo}");
        if (qemu is not null)
        {
            ctx.Out.WriteLine($"Running hypervisor: QEMU {qemu}");
        }

        if (ctx.Args.Has("daemon"))
        {
            ctx.Out.WriteLine($"Running against daemon: {vireo} (none: vireo runs daemonless)");
        }

        ctx.Out.WriteLine();
        return Task.FromResult(0);
    }

    /// <summary>virt-host-validate's QEMU checks, stated from Vireo's own facts.</summary>
    public static Task<int> HostValidate(CommandContext ctx)
    {
        NoPositionals(ctx);
        var f = HostEnvironment.Facts();
        var (kvmOk, kvmWhy) = HostEnvironment.KvmStatus();
        var checks = new List<(string Check, string Result, string? Note)>
        {
            ("Checking for hardware virtualization", f.Virt.HardwareVirt is not null ? "PASS" : "WARN",
                f.Virt.HardwareVirt is null ? "Only emulated CPUs are available, performance will be significantly limited" : null),
            ("Checking if device /dev/kvm exists", f.Virt.DevKvm ? "PASS" : "WARN", f.Virt.DevKvm ? null : "Load the 'kvm_intel' or 'kvm_amd' module to enable KVM"),
            ("Checking if KVM really runs guests", kvmOk ? "PASS" : "WARN", kvmOk ? null : kvmWhy),
            ("Checking for nested virtualization", f.Virt.Nested == true ? "PASS" : "WARN", f.Virt.Nested == true ? null : "nested is not enabled in the KVM module"),
            ("Checking if device /dev/vhost-net exists", HostEnvironment.Root.Exists("/dev/vhost-net") ? "PASS" : "WARN", HostEnvironment.Root.Exists("/dev/vhost-net") ? null : "Load the 'vhost_net' module to improve network performance"),
            ("Checking if device /dev/net/tun exists", HostEnvironment.Root.Exists("/dev/net/tun") ? "PASS" : "FAIL", HostEnvironment.Root.Exists("/dev/net/tun") ? null : "Load the 'tun' module to enable networking for QEMU guests"),
            ("Checking for device assignment IOMMU support", f.Iommu.Units.Count > 0 ? "PASS" : "WARN", f.Iommu.Units.Count > 0 ? null : "No ACPI DMAR/IVRS table found, IOMMU either disabled in BIOS or not supported by this hardware platform"),
            ("Checking if IOMMU is enabled by kernel", f.Iommu.Enabled ? "PASS" : "WARN", f.Iommu.Enabled ? null : "IOMMU appears to be disabled in kernel. Add intel_iommu=on (or amd_iommu=on) to the kernel cmdline"),
            ("Checking for hugepage pools", f.HugePages.Count > 0 ? "PASS" : "WARN", f.HugePages.Count > 0 ? null : "the kernel offers no hugepage sizes"),
        };
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartArray();
                foreach (var (check, result, note) in checks)
                {
                    w.WriteStartObject();
                    w.WriteString("check", check);
                    w.WriteString("result", result);
                    HostFactsJsonHelpers.StringOrNull(w, "note", note);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
        }
        else
        {
            foreach (var (check, result, note) in checks)
            {
                ctx.Out.WriteLine($"  QEMU: {check,-70}: {result}{(note is null ? "" : $" ({note})")}");
            }
        }

        return Task.FromResult(checks.Any(c => c.Result == "FAIL") ? 1 : 0);
    }
}
