using System.Runtime.InteropServices;

namespace Vireo.Host.Discovery;

/// <summary>
/// Reads what a host has from sysfs and procfs under a <see cref="HostRoot"/>. One pass, no caching: callers
/// that need a consistent view keep the returned <see cref="HostFacts"/>.
/// </summary>
public static partial class HostDiscovery
{
    public static HostFacts Discover(HostRoot root)
    {
        var cpu = ReadCpu(root);
        var meminfo = ReadMeminfo(root, "/proc/meminfo");
        long memTotal = meminfo.GetValueOrDefault("MemTotal");
        long memFree = meminfo.GetValueOrDefault("MemFree");
        int basePageKiB = root.IsSystem ? Environment.SystemPageSize / 1024 : 4;
        var hugePages = ReadHugePages(root);
        var cells = ReadCells(root, cpu, memTotal, memFree, basePageKiB, hugePages);
        cpu = cpu with { Cpus = [.. cpu.Cpus.Select(c => c with { Node = cells.FirstOrDefault(n => n.Cpus.Contains(c.Id))?.Id ?? 0 })] };
        var net = ReadNetDevices(root);
        var block = ReadBlockDevices(root);
        var pci = ReadPciDevices(root, net, block);
        return new HostFacts(
            root.ReadText("/proc/sys/kernel/hostname") ?? "localhost",
            cpu,
            memTotal,
            memFree,
            basePageKiB,
            cells,
            hugePages,
            pci,
            net,
            block,
            ReadIommu(root),
            ReadVirt(root, cpu),
            ReadPower(root));
    }

    /// <summary>Parses "Key: 123 kB" lines (/proc/meminfo, or a node's meminfo with its "Node N " prefix) into KiB.</summary>
    internal static Dictionary<string, long> ReadMeminfo(HostRoot root, string path)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in root.ReadLines(path))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            string key = line[..colon].Trim();
            if (key.StartsWith("Node ", StringComparison.Ordinal))
            {
                int sp = key.IndexOf(' ', 5);
                key = sp < 0 ? key : key[(sp + 1)..];
            }

            string[] value = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (value.Length > 0 && long.TryParse(value[0], out long v))
            {
                result[key] = v;
            }
        }

        return result;
    }

    private static IommuFacts ReadIommu(HostRoot root)
    {
        int groups = root.List("/sys/kernel/iommu_groups").Count;
        var units = root.List("/sys/class/iommu");
        string? kind = units.Any(u => u.StartsWith("dmar", StringComparison.Ordinal)) ? "VT-d"
            : units.Any(u => u.StartsWith("ivhd", StringComparison.Ordinal)) ? "AMD-Vi"
            : units.Count > 0 ? "other" : null;
        return new IommuFacts(groups > 0, kind, groups, units);
    }

    private static VirtFacts ReadVirt(HostRoot root, HostCpu cpu)
    {
        bool? nested = null;
        foreach (string module in new[] { "kvm_intel", "kvm_amd" })
        {
            string? v = root.ReadText($"/sys/module/{module}/parameters/nested");
            if (v is not null)
            {
                nested = v is "Y" or "y" or "1";
            }
        }

        return new VirtFacts(
            cpu.HasFlag("vmx"),
            cpu.HasFlag("svm"),
            root.Exists("/dev/kvm"),
            root.Exists("/sys/module/kvm"),
            nested,
            root.Exists("/sys/module/kvm_pvm"));
    }

    private static PowerFacts ReadPower(HostRoot root)
    {
        string[] states = (root.ReadText("/sys/power/state") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new PowerFacts(states.Contains("mem"), states.Contains("disk"));
    }

    private static string DefaultArch() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        Architecture.X86 => "i686",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        _ => RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
    };
}
