using System.Globalization;

namespace Vireo.Host.Discovery;

public static partial class HostDiscovery
{
    private const string NodeBase = "/sys/devices/system/node";

    private static List<HugePagePool> ReadHugePages(HostRoot root)
    {
        var nodes = NodeIds(root);
        var pools = new List<HugePagePool>();
        foreach (string dir in root.List("/sys/kernel/mm/hugepages"))
        {
            if (PoolSize(dir) is not long size)
            {
                continue;
            }

            string p = $"/sys/kernel/mm/hugepages/{dir}";
            var perNode = new List<(int, long, long)>();
            foreach (int n in nodes)
            {
                string np = $"{NodeBase}/node{n}/hugepages/{dir}";
                if (root.Exists(np))
                {
                    perNode.Add((n, root.ReadLong($"{np}/nr_hugepages") ?? 0, root.ReadLong($"{np}/free_hugepages") ?? 0));
                }
            }

            pools.Add(new HugePagePool(
                size,
                root.ReadLong($"{p}/nr_hugepages") ?? 0,
                root.ReadLong($"{p}/free_hugepages") ?? 0,
                root.ReadLong($"{p}/surplus_hugepages") ?? 0,
                perNode));
        }

        pools.Sort((a, b) => a.SizeKiB.CompareTo(b.SizeKiB));
        return pools;
    }

    /// <summary>"hugepages-2048kB" → 2048.</summary>
    internal static long? PoolSize(string dir)
    {
        if (!dir.StartsWith("hugepages-", StringComparison.Ordinal) || !dir.EndsWith("kB", StringComparison.Ordinal))
        {
            return null;
        }

        return long.TryParse(dir.AsSpan(10, dir.Length - 12), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;
    }

    private static List<int> NodeIds(HostRoot root)
    {
        var ids = new List<int>();
        foreach (string name in root.List(NodeBase))
        {
            if (name.Length > 4 && name.StartsWith("node", StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                ids.Add(id);
            }
        }

        ids.Sort();
        return ids;
    }

    private static List<NumaCell> ReadCells(HostRoot root, HostCpu cpu, long memTotal, long memFree, int basePageKiB, List<HugePagePool> hugePages)
    {
        var ids = NodeIds(root);
        var cells = new List<NumaCell>();
        if (ids.Count == 0)
        {
            // A kernel without NUMA: one cell holding everything, as libvirt reports it.
            var pages = new List<PagePool> { BasePages(memTotal, memFree, basePageKiB, hugePages.Select(h => h.SizeKiB * h.Total).Sum()) };
            pages.AddRange(hugePages.Select(h => new PagePool(h.SizeKiB, h.Total, h.Free)));
            cells.Add(new NumaCell(0, memTotal, memFree, CpuSet.Of(cpu.Cpus.Where(c => c.Online).Select(c => c.Id)), [(0, 10)], pages));
            return cells;
        }

        foreach (int id in ids)
        {
            string p = $"{NodeBase}/node{id}";
            var mem = ReadMeminfo(root, $"{p}/meminfo");
            long total = mem.GetValueOrDefault("MemTotal");
            long free = mem.GetValueOrDefault("MemFree");
            var huge = new List<PagePool>();
            foreach (string dir in root.List($"{p}/hugepages"))
            {
                if (PoolSize(dir) is long size)
                {
                    huge.Add(new PagePool(size, root.ReadLong($"{p}/hugepages/{dir}/nr_hugepages") ?? 0, root.ReadLong($"{p}/hugepages/{dir}/free_hugepages") ?? 0));
                }
            }

            huge.Sort((a, b) => a.SizeKiB.CompareTo(b.SizeKiB));
            var pages = new List<PagePool> { BasePages(total, free, basePageKiB, huge.Sum(h => h.SizeKiB * h.Total)) };
            pages.AddRange(huge);

            // The distance file lists one value per online node, in node order.
            string[] dist = (root.ReadText($"{p}/distance") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var distances = new List<(int, int)>();
            for (int i = 0; i < dist.Length && i < ids.Count; i++)
            {
                if (int.TryParse(dist[i], NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                {
                    distances.Add((ids[i], d));
                }
            }

            cells.Add(new NumaCell(id, total, free, CpuSet.ParseKernelList(root.ReadText($"{p}/cpulist")), distances, pages));
        }

        return cells;
    }

    /// <summary>Base pages as libvirt counts them: hugepage pools are carved out of MemTotal, so they are subtracted.</summary>
    private static PagePool BasePages(long totalKiB, long freeKiB, int basePageKiB, long hugeKiB) =>
        new(basePageKiB, Math.Max(0, totalKiB - hugeKiB) / basePageKiB, freeKiB / basePageKiB);
}
