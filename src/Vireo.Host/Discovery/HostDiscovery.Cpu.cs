using System.Globalization;

namespace Vireo.Host.Discovery;

public static partial class HostDiscovery
{
    private static HostCpu ReadCpu(HostRoot root)
    {
        // The first processor block speaks for all: x86 hosts are not heterogeneous in vendor/model/flags.
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in root.ReadLines("/proc/cpuinfo"))
        {
            if (line.Trim().Length == 0)
            {
                if (fields.Count > 0)
                {
                    break;
                }

                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }

        string? Field(string k) => fields.TryGetValue(k, out string? v) && v.Length > 0 ? v : null;
        int? Int(string k) => int.TryParse(Field(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;

        long? microcode = null;
        if (Field("microcode") is string mc)
        {
            microcode = mc.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? long.TryParse(mc.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long h) ? h : null
                : long.TryParse(mc, NumberStyles.Integer, CultureInfo.InvariantCulture, out long d) ? d : null;
        }

        int? physBits = null;
        if (Field("address sizes") is string sizes)
        {
            string first = sizes.Split(' ')[0];
            physBits = int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out int b) ? b : null;
        }

        double? mhz = double.TryParse(Field("cpu MHz"), NumberStyles.Float, CultureInfo.InvariantCulture, out double m) ? m : null;
        string[] flags = (Field("flags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);

        return new HostCpu(
            root.ReadText("/proc/sys/kernel/arch") ?? DefaultArch(),
            Field("model name"),
            Field("vendor_id"),
            Int("cpu family"),
            Int("model"),
            Int("stepping"),
            microcode,
            mhz,
            physBits,
            flags,
            ReadLogicalCpus(root));
    }

    private static List<LogicalCpu> ReadLogicalCpus(HostRoot root)
    {
        const string Base = "/sys/devices/system/cpu";
        var online = CpuSet.ParseKernelList(root.ReadText($"{Base}/online"));
        var cpus = new List<LogicalCpu>();
        foreach (string name in root.List(Base))
        {
            if (!name.StartsWith("cpu", StringComparison.Ordinal) || name.Length == 3 || !name.AsSpan(3).ToString().All(char.IsAsciiDigit))
            {
                continue;
            }

            int id = int.Parse(name.AsSpan(3), CultureInfo.InvariantCulture);
            string topo = $"{Base}/{name}/topology";
            // An offline CPU has no topology directory; libvirt still lists it, without placement.
            bool isOnline = online.IsEmpty ? root.Exists(topo) : online.Contains(id);
            var siblings = CpuSet.ParseKernelList(root.ReadText($"{topo}/thread_siblings_list"));
            cpus.Add(new LogicalCpu(
                id,
                Math.Max(0, root.ReadInt($"{topo}/physical_package_id") ?? 0),
                Math.Max(0, root.ReadInt($"{topo}/die_id") ?? 0),
                // x86 kernels without cluster scheduling report 65535 ("no cluster"); libvirt shows 0.
                root.ReadInt($"{topo}/cluster_id") is int cl and >= 0 and < 65535 ? cl : 0,
                Math.Max(0, root.ReadInt($"{topo}/core_id") ?? 0),
                siblings.IsEmpty ? CpuSet.Of([id]) : siblings,
                isOnline,
                0));
        }

        cpus.Sort((a, b) => a.Id.CompareTo(b.Id));
        return cpus;
    }
}
