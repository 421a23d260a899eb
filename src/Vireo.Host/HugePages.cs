using System.Globalization;
using Vireo.Host.Discovery;
using Vireo.Model;

namespace Vireo.Host;

/// <summary>A mounted hugetlbfs and the page size its files use.</summary>
public sealed record HugetlbfsMount(string Path, long PageSizeKiB);

/// <summary>Hugepage pools: reserving pages (allocpages) and finding where QEMU can map them (hugetlbfs mounts).</summary>
public static class HugePages
{
    /// <summary>
    /// Sets the pool of <paramref name="sizeKiB"/> pages on one node (or host-wide when <paramref name="node"/> is
    /// null) to <paramref name="count"/>, or grows it by that many when <paramref name="add"/>. Returns the
    /// number of pages the kernel actually holds afterwards, which can be fewer when memory is fragmented.
    /// </summary>
    public static long Allocate(HostRoot root, long sizeKiB, long count, int? node, bool add)
    {
        if (count < 0)
        {
            throw VireoException.Invalid($"page count {count} must not be negative");
        }

        string dir = node is int n
            ? $"/sys/devices/system/node/node{n}/hugepages/hugepages-{sizeKiB}kB"
            : $"/sys/kernel/mm/hugepages/hugepages-{sizeKiB}kB";
        if (node is int nn && !root.Exists($"/sys/devices/system/node/node{nn}"))
        {
            throw VireoException.Invalid($"NUMA cell {nn} does not exist on this host");
        }

        if (!root.Exists(dir))
        {
            var sizes = root.List("/sys/kernel/mm/hugepages").Select(HostDiscovery.PoolSize).OfType<long>().Order();
            throw VireoException.Invalid($"page size {sizeKiB} KiB is not a hugepage size this host offers (it offers {string.Join(", ", sizes.Select(s => s + " KiB"))})");
        }

        long current = root.ReadLong($"{dir}/nr_hugepages") ?? 0;
        long target = add ? current + count : count;
        root.WriteText($"{dir}/nr_hugepages", target.ToString(CultureInfo.InvariantCulture));
        return root.ReadLong($"{dir}/nr_hugepages") ?? 0;
    }

    /// <summary>hugetlbfs mounts from /proc/mounts, with their pagesize option (default: the default hugepage size).</summary>
    public static IReadOnlyList<HugetlbfsMount> Mounts(HostRoot root)
    {
        long defaultSize = DefaultSizeKiB(root);
        var mounts = new List<HugetlbfsMount>();
        foreach (string line in root.ReadLines("/proc/mounts"))
        {
            string[] f = line.Split(' ');
            if (f.Length < 4 || f[2] != "hugetlbfs")
            {
                continue;
            }

            long size = defaultSize;
            foreach (string opt in f[3].Split(','))
            {
                if (opt.StartsWith("pagesize=", StringComparison.Ordinal) && ParseSize(opt[9..]) is long s)
                {
                    size = s;
                }
            }

            mounts.Add(new HugetlbfsMount(Unescape(f[1]), size));
        }

        return mounts;
    }

    /// <summary>Hugepagesize from /proc/meminfo, in KiB (2048 on x86 when unknown).</summary>
    public static long DefaultSizeKiB(HostRoot root) =>
        HostDiscovery.ReadMeminfo(root, "/proc/meminfo").TryGetValue("Hugepagesize", out long v) && v > 0 ? v : 2048;

    /// <summary>Parses a size such as "2M", "1G", "2048k", "4096" (KiB) into KiB.</summary>
    public static long? ParseSize(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        char last = char.ToUpperInvariant(text[^1]);
        string digits = text;
        long mult = 1;
        if (last is 'K' or 'M' or 'G' or 'T')
        {
            digits = text[..^1];
            mult = last switch { 'K' => 1, 'M' => 1024, 'G' => 1024 * 1024, _ => 1024L * 1024 * 1024 };
        }
        else if (text.EndsWith("KiB", StringComparison.OrdinalIgnoreCase) || text.EndsWith("kB", StringComparison.Ordinal))
        {
            digits = text[..^(text.EndsWith("kB", StringComparison.Ordinal) ? 2 : 3)];
        }

        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 && v < long.MaxValue / mult ? v * mult : null;
    }

    // /proc/mounts escapes space, tab, newline and backslash as octal.
    private static string Unescape(string s) =>
        s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
         .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
