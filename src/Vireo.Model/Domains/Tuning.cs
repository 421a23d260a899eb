using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// <c>&lt;cputune&gt;</c>: host CPU pinning of vCPU, emulator and I/O threads. The host-tuning layer applies it
/// after QEMU starts; scheduler and quota elements are preserved but not applied.
/// </summary>
public sealed record CpuTune
{
    public IReadOnlyList<VcpuPin> VcpuPins { get; init; } = [];
    public string? EmulatorPin { get; init; }
    public IReadOnlyList<IoThreadPin> IoThreadPins { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static CpuTune? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        var vcpus = new List<VcpuPin>();
        foreach (XmlCursor p in c.Children("vcpupin"))
        {
            string set = p.Require("cpuset");
            vcpus.Add(new VcpuPin(p.IntAttr("vcpu") ?? throw VireoException.Invalid("<cputune/vcpupin> is missing 'vcpu'"), set, CpuSet.Parse(set, "<cputune/vcpupin cpuset>")));
            p.Leftovers();
        }
        var iothreads = new List<IoThreadPin>();
        foreach (XmlCursor p in c.Children("iothreadpin"))
        {
            string set = p.Require("cpuset");
            iothreads.Add(new IoThreadPin(p.IntAttr("iothread") ?? throw VireoException.Invalid("<cputune/iothreadpin> is missing 'iothread'"), set, CpuSet.Parse(set, "<cputune/iothreadpin cpuset>")));
            p.Leftovers();
        }
        XmlCursor? emulator = c.Child("emulatorpin");
        string? emulatorSet = emulator?.Require("cpuset");
        if (emulatorSet is not null)
        {
            CpuSet.Parse(emulatorSet, "<cputune/emulatorpin cpuset>");
        }
        emulator?.Leftovers();
        return new CpuTune { VcpuPins = vcpus, IoThreadPins = iothreads, EmulatorPin = emulatorSet, Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("cputune");
        foreach (VcpuPin p in VcpuPins)
        {
            e.Add(new XElement("vcpupin").Attr("vcpu", p.Vcpu).Attr("cpuset", p.CpuSetText));
        }
        if (EmulatorPin is not null)
        {
            e.Add(new XElement("emulatorpin").Attr("cpuset", EmulatorPin));
        }
        foreach (IoThreadPin p in IoThreadPins)
        {
            e.Add(new XElement("iothreadpin").Attr("iothread", p.IoThread).Attr("cpuset", p.CpuSetText));
        }
        return e.With(Extra);
    }
}

/// <summary>Pin vCPU <see cref="Vcpu"/> to host CPUs <see cref="Cpus"/>.</summary>
public sealed record VcpuPin(int Vcpu, string CpuSetText, IReadOnlyList<int> Cpus);

/// <summary>Pin I/O thread <see cref="IoThread"/> (1-based) to host CPUs.</summary>
public sealed record IoThreadPin(int IoThread, string CpuSetText, IReadOnlyList<int> Cpus);

/// <summary><c>&lt;numatune&gt;</c>: host NUMA memory policy, for all memory and per guest cell.</summary>
public sealed record NumaTune
{
    /// <summary><c>strict</c>, <c>preferred</c>, <c>interleave</c> or <c>restrictive</c>.</summary>
    public string? Mode { get; init; }
    public string? Nodeset { get; init; }
    /// <summary><c>static</c> or <c>auto</c>.</summary>
    public string? Placement { get; init; }
    public IReadOnlyList<NumaMemNode> MemNodes { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static NumaTune? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        XmlCursor? memory = c.Child("memory");
        var nodes = new List<NumaMemNode>();
        foreach (XmlCursor n in c.Children("memnode"))
        {
            string set = n.Require("nodeset");
            CpuSet.Parse(set, "<numatune/memnode nodeset>");
            nodes.Add(new NumaMemNode(n.IntAttr("cellid") ?? throw VireoException.Invalid("<numatune/memnode> is missing 'cellid'"),
                n.OneOf("mode", "strict", "preferred", "interleave", "restrictive") ?? "strict", set));
            n.Leftovers();
        }
        string? nodeset = memory?.Attr("nodeset");
        if (nodeset is not null)
        {
            CpuSet.Parse(nodeset, "<numatune/memory nodeset>");
        }
        var t = new NumaTune
        {
            Mode = memory?.OneOf("mode", "strict", "preferred", "interleave", "restrictive"),
            Nodeset = nodeset,
            Placement = memory?.OneOf("placement", "static", "auto"),
            MemNodes = nodes,
        };
        memory?.Leftovers();
        return t with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("numatune");
        if (Mode is not null || Nodeset is not null || Placement is not null)
        {
            e.Add(new XElement("memory").Attr("mode", Mode).Attr("nodeset", Nodeset).Attr("placement", Placement));
        }
        foreach (NumaMemNode n in MemNodes)
        {
            e.Add(new XElement("memnode").Attr("cellid", n.CellId).Attr("mode", n.Mode).Attr("nodeset", n.Nodeset));
        }
        return e.With(Extra);
    }
}

/// <summary>Memory policy of one guest NUMA cell.</summary>
public sealed record NumaMemNode(int CellId, string Mode, string Nodeset);

/// <summary><c>&lt;memoryBacking&gt;</c>: hugepages, locking, memfd/file sources, sharing and preallocation.</summary>
public sealed record MemoryBacking
{
    public bool Hugepages { get; init; }
    /// <summary>Explicit page sizes, optionally per guest node set.</summary>
    public IReadOnlyList<HugePage> Pages { get; init; } = [];
    public bool NoSharePages { get; init; }
    public bool Locked { get; init; }
    /// <summary><c>file</c>, <c>anonymous</c> or <c>memfd</c>.</summary>
    public string? SourceType { get; init; }
    /// <summary><c>shared</c> or <c>private</c>.</summary>
    public string? AccessMode { get; init; }
    /// <summary><c>immediate</c> or <c>ondemand</c>.</summary>
    public string? AllocationMode { get; init; }
    public int? AllocationThreads { get; init; }
    public bool Discard { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static MemoryBacking? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        XmlCursor? huge = c.Child("hugepages");
        var pages = new List<HugePage>();
        if (huge is not null)
        {
            foreach (XmlCursor p in huge.Children("page"))
            {
                string? nodeset = p.Attr("nodeset");
                if (nodeset is not null)
                {
                    CpuSet.Parse(nodeset, "<memoryBacking/hugepages/page nodeset>");
                }
                pages.Add(new HugePage(MemorySize.ToKiB(p.Require("size"), p.Attr("unit"), "<memoryBacking/hugepages/page size>"), nodeset));
                p.Leftovers();
            }
            huge.Leftovers();
        }
        XmlCursor? source = c.Child("source");
        XmlCursor? access = c.Child("access");
        XmlCursor? allocation = c.Child("allocation");
        var b = new MemoryBacking
        {
            Hugepages = huge is not null,
            Pages = pages,
            NoSharePages = c.HasChild("nosharepages"),
            Locked = c.HasChild("locked"),
            SourceType = source?.OneOf("type", "file", "anonymous", "memfd"),
            AccessMode = access?.OneOf("mode", "shared", "private"),
            AllocationMode = allocation?.OneOf("mode", "immediate", "ondemand"),
            AllocationThreads = allocation?.IntAttr("threads"),
            Discard = c.HasChild("discard"),
        };
        source?.Leftovers();
        access?.Leftovers();
        allocation?.Leftovers();
        return b with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("memoryBacking");
        if (Hugepages)
        {
            e.Add(new XElement("hugepages", Pages.Select(p => new XElement("page").Attr("size", p.SizeKiB).Attr("unit", "KiB").Attr("nodeset", p.Nodeset))));
        }
        if (NoSharePages)
        {
            e.Add(new XElement("nosharepages"));
        }
        if (Locked)
        {
            e.Add(new XElement("locked"));
        }
        if (SourceType is not null)
        {
            e.Add(new XElement("source").Attr("type", SourceType));
        }
        if (AccessMode is not null)
        {
            e.Add(new XElement("access").Attr("mode", AccessMode));
        }
        if (AllocationMode is not null || AllocationThreads is not null)
        {
            e.Add(new XElement("allocation").Attr("mode", AllocationMode).Attr("threads", AllocationThreads));
        }
        if (Discard)
        {
            e.Add(new XElement("discard"));
        }
        return e.With(Extra);
    }
}

/// <summary>A hugepage size in KiB, for the guest nodes in <see cref="Nodeset"/> (all when null).</summary>
public sealed record HugePage(long SizeKiB, string? Nodeset);
