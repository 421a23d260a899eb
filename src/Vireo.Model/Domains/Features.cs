using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>The <c>&lt;features&gt;</c> Vireo implements; any other feature is refused at parse.</summary>
public sealed record Features
{
    public bool Acpi { get; init; }
    public bool Apic { get; init; }
    public bool Pae { get; init; }
    public bool Hap { get; init; }
    /// <summary><c>&lt;vmport state&gt;</c>: null when absent (QEMU's default).</summary>
    public bool? Vmport { get; init; }
    public bool? Smm { get; init; }
    public bool? Pmu { get; init; }
    public bool? KvmHidden { get; init; }
    public bool? KvmHintDedicated { get; init; }
    public bool? KvmPollControl { get; init; }
    public bool? KvmPvIpi { get; init; }
    public int? KvmDirtyRingSize { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static Features Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return new Features();
        }
        var f = new Features
        {
            Acpi = Flag(c, "acpi"),
            Apic = Flag(c, "apic"),
            Pae = Flag(c, "pae"),
            Hap = Flag(c, "hap"),
            Vmport = State(c, "vmport"),
            Smm = State(c, "smm"),
            Pmu = State(c, "pmu"),
        };
        XmlCursor? kvm = c.Child("kvm");
        if (kvm is not null)
        {
            XmlCursor? ring = kvm.Child("dirty-ring");
            f = f with
            {
                KvmHidden = State(kvm, "hidden"),
                KvmHintDedicated = State(kvm, "hint-dedicated"),
                KvmPollControl = State(kvm, "poll-control"),
                KvmPvIpi = State(kvm, "pv-ipi"),
                KvmDirtyRingSize = ring?.YesNo("state") == true ? ring.IntAttr("size") : null,
            };
            ring?.Leftovers();
            kvm.Leftovers();
        }
        return f with { Extra = c.Leftovers() };
    }

    private static bool Flag(XmlCursor c, string name)
    {
        XmlCursor? child = c.Child(name);
        if (child is null)
        {
            return false;
        }
        // <apic eoi='on'/>, <acpi/>: attributes we do not model are kept.
        bool? state = child.YesNo("state");
        child.Leftovers();
        return state ?? true;
    }

    private static bool? State(XmlCursor c, string name)
    {
        XmlCursor? child = c.Child(name);
        if (child is null)
        {
            return null;
        }
        bool state = child.YesNo("state") ?? true;
        child.Leftovers();
        return state;
    }

    internal XElement? ToXml()
    {
        var e = new XElement("features");
        if (Acpi)
        {
            e.Add(new XElement("acpi"));
        }
        if (Apic)
        {
            e.Add(new XElement("apic"));
        }
        if (Pae)
        {
            e.Add(new XElement("pae"));
        }
        if (Hap)
        {
            e.Add(new XElement("hap"));
        }
        if (KvmHidden is not null || KvmHintDedicated is not null || KvmPollControl is not null || KvmPvIpi is not null || KvmDirtyRingSize is not null)
        {
            var kvm = new XElement("kvm");
            AddState(kvm, "hidden", KvmHidden);
            AddState(kvm, "hint-dedicated", KvmHintDedicated);
            AddState(kvm, "poll-control", KvmPollControl);
            AddState(kvm, "pv-ipi", KvmPvIpi);
            if (KvmDirtyRingSize is int size)
            {
                kvm.Add(new XElement("dirty-ring", new XAttribute("state", "on")).Attr("size", size));
            }
            e.Add(kvm);
        }
        AddState(e, "pmu", Pmu);
        AddState(e, "vmport", Vmport);
        AddState(e, "smm", Smm);
        e.With(Extra);
        return e.HasElements || e.HasAttributes ? e : null;
    }

    private static void AddState(XElement e, string name, bool? state)
    {
        if (state is bool s)
        {
            e.Add(new XElement(name, new XAttribute("state", s ? "on" : "off")));
        }
    }
}
