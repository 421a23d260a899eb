using Vireo.Host;
using Vireo.Model;
using DomainDefinition = Vireo.Model.Domains.DomainDefinition;

namespace Vireo.Engine.Tuning;

/// <summary>
/// Host tuning of one domain: <see cref="Validate"/> refuses, before QEMU starts, pins and policies this host
/// cannot honour; <see cref="ApplyAsync"/> pins QEMU's vCPU, I/O and emulator threads after the QMP handshake
/// and before <c>cont</c>, so the guest never runs an instruction unpinned.
/// </summary>
public static partial class DomainTuner
{
    /// <summary>
    /// Checks <paramref name="def"/>'s cputune, vcpu cpuset, numatune and hugepages against <paramref name="host"/>,
    /// and chooses a node for automatic placement. Throws <see cref="VireoException"/> naming the field and value.
    /// </summary>
    public static TuningPlan Validate(DomainDefinition def, HostFacts host, IReadOnlyList<HugetlbfsMount>? mounts = null)
    {
        var online = host.OnlineCpus;
        CpuSet? defaultCpus = null;
        if (def.VcpuCpuset is string vcpuSet)
        {
            defaultCpus = RequireCpus(CpuSet.Parse(vcpuSet, "<vcpu cpuset>"), online, $"<vcpu cpuset='{vcpuSet}'>");
        }

        if (def.CpuTune is { } tune)
        {
            if (tune.VcpuPins.Count > def.MaxVcpus)
            {
                throw VireoException.Invalid($"<cputune> has {tune.VcpuPins.Count} vcpupin elements but the domain has only {def.MaxVcpus} vCPUs");
            }

            var seen = new HashSet<int>();
            foreach (var pin in tune.VcpuPins)
            {
                string field = $"<cputune/vcpupin vcpu='{pin.Vcpu}' cpuset='{pin.CpuSetText}'>";
                if (pin.Vcpu < 0 || pin.Vcpu >= def.MaxVcpus)
                {
                    throw VireoException.Invalid($"{field} pins vCPU {pin.Vcpu}, but the domain's vCPUs are 0-{def.MaxVcpus - 1}");
                }

                if (!seen.Add(pin.Vcpu))
                {
                    throw VireoException.Invalid($"{field} pins vCPU {pin.Vcpu} a second time");
                }

                RequireCpus(CpuSet.Of(pin.Cpus), online, field);
            }

            if (tune.EmulatorPin is string emu)
            {
                RequireCpus(CpuSet.Parse(emu, "<cputune/emulatorpin cpuset>"), online, $"<cputune/emulatorpin cpuset='{emu}'>");
            }

            foreach (var pin in tune.IoThreadPins)
            {
                string field = $"<cputune/iothreadpin iothread='{pin.IoThread}' cpuset='{pin.CpuSetText}'>";
                if (pin.IoThread < 1 || pin.IoThread > def.IoThreads)
                {
                    throw VireoException.Invalid($"{field} names I/O thread {pin.IoThread}, but the domain has {(def.IoThreads == 0 ? "no I/O threads" : $"I/O threads 1-{def.IoThreads}")}");
                }

                RequireCpus(CpuSet.Of(pin.Cpus), online, field);
            }
        }

        CpuSet? memoryNodes = null;
        if (def.NumaTune is { } numa)
        {
            if (numa.Nodeset is string ns)
            {
                memoryNodes = RequireNodes(CpuSet.Parse(ns, "<numatune/memory nodeset>"), host, $"<numatune/memory nodeset='{ns}'>");
            }

            foreach (var mn in numa.MemNodes)
            {
                RequireNodes(CpuSet.Parse(mn.Nodeset, "<numatune/memnode nodeset>"), host, $"<numatune/memnode cellid='{mn.CellId}' nodeset='{mn.Nodeset}'>");
            }
        }

        int? autoNode = null;
        if (def.VcpuPlacement == "auto" || def.NumaTune?.Placement == "auto")
        {
            var hp = HugepageNeed(def, host);
            autoNode = ChooseNode(host, def.MemoryKiB, hp);
            memoryNodes = CpuSet.Of([autoNode.Value]);
            defaultCpus ??= host.Cell(autoNode.Value)!.Cpus;
        }

        var plan = new TuningPlan { AutoNode = autoNode, DefaultCpus = defaultCpus };
        if (HugepageNeed(def, host) is (long size, long count))
        {
            CheckHugepages(host, size, count, memoryNodes, def.NumaTune?.Mode);
            var byMount = new Dictionary<long, string>();
            foreach (var m in mounts ?? [])
            {
                byMount.TryAdd(m.PageSizeKiB, m.Path);
            }

            if (def.MemoryBacking?.SourceType != "memfd" && !byMount.ContainsKey(size))
            {
                throw new VireoException(ErrorKind.HostUnavailable, $"<memoryBacking><hugepages> needs a hugetlbfs mount with pagesize={size}K, and none is mounted (mount -t hugetlbfs -o pagesize={SizeText(size)} none /dev/hugepages{(size == 2048 ? "" : SizeText(size))})");
            }

            plan = plan with { Hugepages = (size, count), HugepageMounts = byMount };
        }

        return plan;
    }

    /// <summary>
    /// The node for automatic placement: the one with the most free memory (free hugepages of the guest's size when it
    /// uses them) that can hold the whole guest, ties to the lowest id, as libvirt's numad fallback does.
    /// </summary>
    public static int ChooseNode(HostFacts host, long memoryKiB, (long SizeKiB, long Count)? hugepages = null)
    {
        (int Node, long Free)? best = null;
        foreach (var cell in host.Cells)
        {
            if (cell.Cpus.IsEmpty)
            {
                continue; // a memory-only node cannot run vCPUs
            }

            long free = hugepages is (long size, _)
                ? (cell.Pages.FirstOrDefault(p => p.SizeKiB == size)?.Free ?? 0) * size
                : cell.FreeKiB;
            if (free >= memoryKiB && (best is null || free > best.Value.Free))
            {
                best = (cell.Id, free);
            }
        }

        return best?.Node ?? throw new VireoException(ErrorKind.HostUnavailable,
            $"<vcpu placement='auto'>: no NUMA node has {memoryKiB} KiB free{(hugepages is (long s, _) ? $" in {s} KiB hugepages" : "")} " +
            $"(free per node: {string.Join(", ", host.Cells.Select(c => $"{c.Id}: {(hugepages is (long hs, _) ? (c.Pages.FirstOrDefault(p => p.SizeKiB == hs)?.Free ?? 0) * hs : c.FreeKiB)} KiB"))})");
    }

    /// <summary>The hugepage size and count the guest's memory takes, or null when it does not use hugepages.</summary>
    public static (long SizeKiB, long Count)? HugepageNeed(DomainDefinition def, HostFacts host)
    {
        if (def.MemoryBacking is not { Hugepages: true } backing)
        {
            return null;
        }

        long size = backing.Pages.Count > 0 ? backing.Pages[0].SizeKiB : DefaultHugepageKiB(host);
        foreach (var p in backing.Pages)
        {
            if (!host.HugePages.Any(h => h.SizeKiB == p.SizeKiB))
            {
                throw VireoException.Invalid($"<memoryBacking/hugepages/page size='{p.SizeKiB}' unit='KiB'> is not a hugepage size this host offers ({Offered(host)})");
            }
        }

        if (!host.HugePages.Any(h => h.SizeKiB == size))
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"<memoryBacking><hugepages/> needs {size} KiB hugepages, which this host does not offer ({Offered(host)})");
        }

        return (size, (def.MemoryKiB + size - 1) / size);
    }

    private static void CheckHugepages(HostFacts host, long size, long count, CpuSet? nodes, string? mode)
    {
        var pool = host.HugePages.First(h => h.SizeKiB == size);
        // Strict binding takes pages only from the bound nodes; other modes may fall back to any node.
        long free = nodes is not null && (mode ?? "strict") == "strict"
            ? pool.PerNode.Where(n => nodes.Contains(n.Node)).Sum(n => n.Free)
            : pool.Free;
        if (free < count)
        {
            long total = nodes is { Count: 1 } ? pool.PerNode.Where(n => n.Node == nodes.Ids[0]).Sum(n => n.Total) : pool.Total;
            string where = nodes is not null && (mode ?? "strict") == "strict" ? $" on NUMA node(s) {nodes}" : "";
            throw new VireoException(ErrorKind.HostUnavailable,
                $"<memoryBacking><hugepages>: the guest needs {count} pages of {size} KiB{where}, but only {free} are free (reserve more: vireo allocpages {size}KiB {total + count - free}{(nodes is { Count: 1 } ? $" --cellno {nodes.Ids[0]}" : "")})");
        }
    }

    private static CpuSet RequireCpus(CpuSet wanted, CpuSet online, string field)
    {
        var missing = wanted.Except(online);
        if (!missing.IsEmpty)
        {
            throw VireoException.Invalid($"{field} names CPU{(missing.Count > 1 ? "s" : "")} {missing}, which this host does not have (its online CPUs are {online})");
        }

        return wanted;
    }

    private static CpuSet RequireNodes(CpuSet wanted, HostFacts host, string field)
    {
        var missing = wanted.Except(host.NumaNodes);
        if (!missing.IsEmpty)
        {
            throw VireoException.Invalid($"{field} names NUMA node{(missing.Count > 1 ? "s" : "")} {missing}, which this host does not have (its nodes are {host.NumaNodes})");
        }

        return wanted;
    }

    private static long DefaultHugepageKiB(HostFacts host) =>
        host.HugePages.Any(h => h.SizeKiB == 2048) ? 2048 : host.HugePages.Count > 0 ? host.HugePages[0].SizeKiB : 2048;

    private static string Offered(HostFacts host) =>
        host.HugePages.Count == 0 ? "it offers none" : "it offers " + string.Join(", ", host.HugePages.Select(h => $"{h.SizeKiB} KiB"));

    private static string SizeText(long kib) => kib % (1024 * 1024) == 0 ? $"{kib / 1024 / 1024}G" : kib % 1024 == 0 ? $"{kib / 1024}M" : $"{kib}K";
}
