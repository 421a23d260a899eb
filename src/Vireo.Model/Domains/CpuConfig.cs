using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>The <c>&lt;cpu&gt;</c> element: mode, model, features, topology and guest NUMA cells.</summary>
public sealed record CpuConfig
{
    /// <summary><c>custom</c>, <c>host-model</c>, <c>host-passthrough</c> or <c>maximum</c>.</summary>
    public string Mode { get; init; } = "custom";
    public string? Match { get; init; }
    public string? Check { get; init; }
    public bool? Migratable { get; init; }
    public string? Model { get; init; }
    public string? ModelFallback { get; init; }
    public string? Vendor { get; init; }
    public CpuTopology? Topology { get; init; }
    public IReadOnlyList<CpuFeature> Features { get; init; } = [];
    public IReadOnlyList<NumaCell> NumaCells { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static CpuConfig? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        string mode = c.OneOf("mode", "custom", "host-model", "host-passthrough", "maximum") ?? "custom";
        XmlCursor? model = c.Child("model");
        XmlCursor? topology = c.Child("topology");
        var features = new List<CpuFeature>();
        foreach (XmlCursor f in c.Children("feature"))
        {
            string policy = f.OneOf("policy", "force", "require", "optional", "disable", "forbid") ?? "require";
            features.Add(new CpuFeature(f.Require("name"), policy));
            f.Leftovers();
        }
        var cells = new List<NumaCell>();
        XmlCursor? numa = c.Child("numa");
        if (numa is not null)
        {
            foreach (XmlCursor cell in numa.Children("cell"))
            {
                cells.Add(NumaCell.Parse(cell, cells.Count));
            }
            numa.Leftovers();
        }
        var cpu = new CpuConfig
        {
            Mode = mode,
            Match = c.OneOf("match", "minimum", "exact", "strict"),
            Check = c.OneOf("check", "none", "partial", "full"),
            Migratable = c.YesNo("migratable"),
            Model = model?.Text.Trim() is { Length: > 0 } m ? m : null,
            ModelFallback = model?.OneOf("fallback", "allow", "forbid"),
            Vendor = c.ChildText("vendor"),
            Topology = topology is null ? null : CpuTopology.Parse(topology),
            Features = features,
            NumaCells = cells,
        };
        model?.Leftovers();
        return cpu with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("cpu", new XAttribute("mode", Mode)).Attr("match", Match).Attr("check", Check).OnOff("migratable", Migratable);
        if (Model is not null || ModelFallback is not null)
        {
            e.Add(new XElement("model", Model).Attr("fallback", ModelFallback));
        }
        e.TextChild("vendor", Vendor);
        e.Child(Topology?.ToXml());
        foreach (CpuFeature f in Features)
        {
            e.Add(new XElement("feature", new XAttribute("policy", f.Policy), new XAttribute("name", f.Name)));
        }
        if (NumaCells.Count > 0)
        {
            e.Add(new XElement("numa", NumaCells.Select(c => c.ToXml())));
        }
        return e.With(Extra);
    }
}

/// <summary>One <c>&lt;feature policy name&gt;</c> of a CPU model.</summary>
public sealed record CpuFeature(string Name, string Policy);

/// <summary>sockets × dies × clusters × cores × threads.</summary>
public sealed record CpuTopology
{
    public int Sockets { get; init; } = 1;
    public int Dies { get; init; } = 1;
    public int? Clusters { get; init; }
    public int Cores { get; init; } = 1;
    public int Threads { get; init; } = 1;

    public int Total => Sockets * Dies * (Clusters ?? 1) * Cores * Threads;

    internal static CpuTopology Parse(XmlCursor c)
    {
        var t = new CpuTopology
        {
            Sockets = Positive(c, "sockets"),
            Dies = c.IntAttr("dies") ?? 1,
            Clusters = c.IntAttr("clusters"),
            Cores = Positive(c, "cores"),
            Threads = Positive(c, "threads"),
        };
        c.Leftovers();
        if (t.Dies < 1 || t.Clusters is < 1)
        {
            throw VireoException.Invalid("<cpu/topology> dies and clusters must be at least 1");
        }
        return t;
    }

    private static int Positive(XmlCursor c, string name)
    {
        int v = c.IntAttr(name) ?? throw VireoException.Invalid($"<cpu/topology> is missing '{name}'");
        return v >= 1 ? v : throw VireoException.Invalid($"<cpu/topology {name}='{v}'> must be at least 1");
    }

    internal XElement ToXml() =>
        new XElement("topology").Attr("sockets", Sockets).Attr("dies", Dies).Attr("clusters", Clusters)
            .Attr("cores", Cores).Attr("threads", Threads);
}

/// <summary>A guest NUMA node: <c>&lt;cpu&gt;&lt;numa&gt;&lt;cell id cpus memory&gt;</c>.</summary>
public sealed record NumaCell
{
    public int Id { get; init; }
    /// <summary>The vCPU set, as written (<c>0-3,^2</c>).</summary>
    public string? Cpus { get; init; }
    public long MemoryKiB { get; init; }
    /// <summary><c>shared</c> or <c>private</c>.</summary>
    public string? MemAccess { get; init; }
    public bool? Discard { get; init; }
    public IReadOnlyList<(int CellId, int Value)> Distances { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static NumaCell Parse(XmlCursor c, int position)
    {
        string memory = c.Require("memory");
        var distances = new List<(int, int)>();
        XmlCursor? d = c.Child("distances");
        if (d is not null)
        {
            foreach (XmlCursor s in d.Children("sibling"))
            {
                distances.Add((s.IntAttr("id") ?? 0, s.IntAttr("value") ?? 10));
                s.Leftovers();
            }
            d.Leftovers();
        }
        string? cpus = c.Attr("cpus");
        if (cpus is not null)
        {
            CpuSet.Parse(cpus, $"<cpu/numa/cell cpus>");
        }
        return new NumaCell
        {
            Id = c.IntAttr("id") ?? position,
            Cpus = cpus,
            MemoryKiB = MemorySize.ToKiB(memory, c.Attr("unit"), "<cpu/numa/cell memory>"),
            MemAccess = c.OneOf("memAccess", "shared", "private"),
            Discard = c.YesNo("discard"),
            Distances = distances,
            Extra = c.Leftovers(),
        };
    }

    internal XElement ToXml()
    {
        var e = new XElement("cell").Attr("id", Id).Attr("cpus", Cpus).Attr("memory", MemoryKiB).Attr("unit", "KiB")
            .Attr("memAccess", MemAccess).YesNo("discard", Discard);
        if (Distances.Count > 0)
        {
            e.Add(new XElement("distances", Distances.Select(d => new XElement("sibling").Attr("id", d.CellId).Attr("value", d.Value))));
        }
        return e.With(Extra);
    }
}
