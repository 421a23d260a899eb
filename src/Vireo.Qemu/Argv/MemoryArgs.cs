using System.Globalization;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// <c>-m</c>, the RAM backends (one for the machine, or one per guest NUMA cell with its host policy), <c>-smp</c>
/// and <c>-numa</c>, and memory DIMMs.
/// </summary>
internal static class MemoryArgs
{
    public static bool UsesNuma(DomainDefinition def) => def.Cpu?.NumaCells.Count > 0;

    public static void Write(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        var m = new QemuOpts().Add("size", K(InitialKiB(def)));
        if (def.MaxMemoryKiB is long max)
        {
            m.Add("slots", def.MemorySlots ?? 0).Add("maxmem", K(max));
        }
        w.Add("-m", m);
        if (!UsesNuma(def))
        {
            w.Add("-object", Backend(w, "pc.ram", InitialKiB(def), null, def.NumaTune?.Mode, NodesetOf(w, def.NumaTune), null));
        }
        if (def.MemoryBacking?.Locked == true)
        {
            w.Add("-overcommit", "mem-lock=on");
        }
        CpuArgs.WriteSmp(w);
        if (UsesNuma(def))
        {
            foreach (NumaCell cell in def.Cpu!.NumaCells)
            {
                NumaMemNode? node = def.NumaTune?.MemNodes.FirstOrDefault(n => n.CellId == cell.Id);
                string id = "ram-node" + cell.Id.ToString(CultureInfo.InvariantCulture);
                w.Add("-object", Backend(w, id, AlignUp(cell.MemoryKiB, 1024), cell, node?.Mode ?? def.NumaTune?.Mode, node?.Nodeset ?? NodesetOf(w, def.NumaTune), cell.Id));
                var numa = new QemuOpts("node").Add("nodeid", cell.Id);
                string numaText = numa.ToKeyValue();
                if (cell.Cpus is not null)
                {
                    foreach (var (first, last) in CpuSet.Ranges(CpuSet.Parse(cell.Cpus, "<cpu/numa/cell cpus>")))
                    {
                        numaText += first == last ? $",cpus={first}" : $",cpus={first}-{last}";
                    }
                }
                w.Add("-numa", numaText + ",memdev=" + id);
            }
            foreach (NumaCell cell in def.Cpu.NumaCells)
            {
                foreach (var (sibling, value) in cell.Distances)
                {
                    w.Add("-numa", new QemuOpts("dist").Add("src", cell.Id).Add("dst", sibling).Add("val", value));
                }
            }
        }
    }

    /// <summary>The DIMMs: a backend and a pc-dimm each.</summary>
    public static void WriteDimms(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        for (int i = 0; i < def.Devices.Memories.Count; i++)
        {
            MemoryDevice mem = def.Devices.Memories[i];
            string id = "memdimm" + i.ToString(CultureInfo.InvariantCulture);
            NumaCell? cell = def.Cpu?.NumaCells.FirstOrDefault(c => c.Id == mem.TargetNode);
            w.Add("-object", Backend(w, id, AlignUp(mem.SizeKiB, 2048), cell, mem.SourceNodemask is null ? null : "strict", mem.SourceNodemask, mem.TargetNode, mem.SourcePageSizeKiB));
            var dimm = new QemuOpts("pc-dimm");
            if (mem.TargetNode is int node)
            {
                dimm.Add("node", node);
            }
            dimm.Add("memdev", id).Add("id", mem.Alias);
            if (mem.Address?.Slot is int slot)
            {
                dimm.Add("slot", slot);
            }
            else
            {
                dimm.Add("slot", i);
            }
            w.Add("-device", dimm);
        }
    }

    private static QemuOpts Backend(ArgvWriter w, string id, long kib, NumaCell? cell, string? mode, string? nodeset, int? cellId, long? pageSizeKiB = null)
    {
        DomainDefinition def = w.Def;
        MemoryBacking? backing = def.MemoryBacking;
        long? page = pageSizeKiB ?? HugePageFor(backing, cellId);
        bool? share = cell?.MemAccess switch
        {
            "shared" => true,
            "private" => false,
            _ => backing?.AccessMode switch
            {
                "shared" => true,
                _ => null,
            },
        };
        QemuOpts o;
        if (page is long size)
        {
            string mount = w.Options.HugepageMounts.TryGetValue(size, out string? dir)
                ? dir
                : size == 2048 ? "/dev/hugepages" : size == 1048576 ? "/dev/hugepages1G" : throw new VireoException(ErrorKind.HostUnavailable, $"no hugetlbfs mount is known for {size} KiB pages");
            o = new QemuOpts("memory-backend-file", "qom-type").Add("id", id).Add("mem-path", mount);
            if (share is bool s)
            {
                o.Add("share", s);
            }
            o.Add("prealloc", true);
        }
        else if (backing?.SourceType == "memfd")
        {
            o = new QemuOpts("memory-backend-memfd", "qom-type").Add("id", id);
            if (share is bool s)
            {
                o.Add("share", s);
            }
        }
        else if (backing?.SourceType == "file" || share == true)
        {
            o = new QemuOpts("memory-backend-file", "qom-type").Add("id", id).Add("mem-path", w.Options.RuntimeDirectory);
            if (share is bool s)
            {
                o.Add("share", s);
            }
        }
        else
        {
            o = new QemuOpts("memory-backend-ram", "qom-type").Add("id", id);
        }
        if (backing?.AllocationMode == "immediate" && !o.Has("prealloc"))
        {
            o.Add("prealloc", true);
        }
        o.Add("size", kib * 1024);
        if (nodeset is not null && mode is not null && mode != "restrictive")
        {
            var nodes = CpuSet.Parse(nodeset, "<numatune nodeset>").Select(n => (long)n).ToList();
            o.AddList("host-nodes", nodes);
            o.Add("policy", mode switch
            {
                "strict" => "bind",
                "preferred" => "preferred",
                _ => "interleave",
            });
        }
        return o;
    }

    private static long? HugePageFor(MemoryBacking? backing, int? cellId)
    {
        if (backing is not { Hugepages: true })
        {
            return null;
        }
        if (backing.Pages.Count == 0)
        {
            return 2048;
        }
        foreach (HugePage p in backing.Pages)
        {
            if (p.Nodeset is null || (cellId is int id && CpuSet.Parse(p.Nodeset, "<hugepages/page nodeset>").Contains(id)))
            {
                return p.SizeKiB;
            }
        }
        return cellId is null ? backing.Pages[0].SizeKiB : null;
    }

    /// <summary>
    /// Boot RAM, aligned like libvirt: whole MiB (per NUMA cell when there are cells), without the DIMMs, which
    /// are aligned to 2 MiB each.
    /// </summary>
    public static long InitialKiB(DomainDefinition def) =>
        UsesNuma(def)
            ? def.Cpu!.NumaCells.Sum(c => AlignUp(c.MemoryKiB, 1024))
            : AlignUp(def.MemoryKiB - def.Devices.Memories.Sum(m => AlignUp(m.SizeKiB, 2048)), 1024);

    private static long AlignUp(long kib, long unit) => (kib + unit - 1) / unit * unit;

    /// <summary>A nodeset, or for <c>placement='auto'</c> the one the engine chose from the host's topology.</summary>
    private static string? NodesetOf(ArgvWriter w, NumaTune? tune) =>
        tune is null ? null : tune.Placement == "auto" ? w.Options.AutoNumaNodeset : tune.Nodeset;

    private static string K(long kib) => kib.ToString(CultureInfo.InvariantCulture) + "k";
}
