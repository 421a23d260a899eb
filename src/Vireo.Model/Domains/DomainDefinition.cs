using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// A libvirt domain definition, parsed once into immutable records. <see cref="Parse"/> validates and refuses what
/// Vireo cannot run; <see cref="ToXml"/> writes it back like <c>virsh dumpxml</c>, keeping unmodeled harmless
/// elements. Changes are made with <c>with</c> expressions, which produce a new definition.
/// </summary>
public sealed partial record DomainDefinition
{
    /// <summary><c>qemu</c> (TCG) or <c>kvm</c>: the &lt;domain type&gt;.</summary>
    public string Type { get; init; } = "qemu";
    public required string Name { get; init; }
    public Guid Uuid { get; init; }
    public string? Title { get; init; }
    public string? Description { get; init; }
    public long MemoryKiB { get; init; }
    public long CurrentMemoryKiB { get; init; }
    /// <summary><c>&lt;maxMemory slots&gt;</c>: the hotplug ceiling, when memory DIMMs may be added.</summary>
    public long? MaxMemoryKiB { get; init; }
    public int? MemorySlots { get; init; }
    /// <summary>vCPUs online at boot (<c>&lt;vcpu current&gt;</c>, or the maximum when absent).</summary>
    public int Vcpus { get; init; } = 1;
    /// <summary>The maximum vCPUs (<c>&lt;vcpu&gt;</c>'s text).</summary>
    public int MaxVcpus { get; init; } = 1;
    public string? VcpuPlacement { get; init; }
    public string? VcpuCpuset { get; init; }
    public int IoThreads { get; init; }
    public CpuTune? CpuTune { get; init; }
    public NumaTune? NumaTune { get; init; }
    public MemoryBacking? MemoryBacking { get; init; }
    public OsConfig Os { get; init; } = new();
    public Features Features { get; init; } = new();
    public CpuConfig? Cpu { get; init; }
    public ClockConfig Clock { get; init; } = new();
    public LifecycleAction OnPoweroff { get; init; } = LifecycleAction.Destroy;
    public LifecycleAction OnReboot { get; init; } = LifecycleAction.Restart;
    public LifecycleAction OnCrash { get; init; } = LifecycleAction.Destroy;
    public DomainDevices Devices { get; init; } = new();
    /// <summary>Unmodeled harmless top-level elements (metadata, pm, ...) and attributes, written back as they came.</summary>
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    /// <summary>True for <c>&lt;domain type='kvm'&gt;</c>.</summary>
    public bool WantsKvm => Type == "kvm";

    public DomainDefinition WithUuid(Guid uuid) => this with { Uuid = uuid };

    public DomainDefinition WithName(string name) => this with { Name = ObjectName.Validate(name, "domain") };

    /// <summary>
    /// Parses libvirt domain XML through <see cref="SafeXml"/>. Throws <see cref="VireoException"/> with
    /// <see cref="ErrorKind.InvalidArgument"/> for bad values and <see cref="ErrorKind.Unsupported"/> for elements
    /// Vireo does not implement. A missing uuid is generated.
    /// </summary>
    public static DomainDefinition Parse(string xml)
    {
        XDocument doc = SafeXml.Parse(xml, "domain XML");
        XElement root = doc.Root ?? throw VireoException.Invalid("domain XML has no root element");
        if (root.Name != "domain")
        {
            throw VireoException.Invalid($"domain XML must have <domain> as its root element, not <{root.Name.LocalName}>");
        }
        var context = new ParseContext();
        var c = new XmlCursor(root, "", context);
        DomainDefinition def = ParseDomain(c);
        context.ThrowIfUnsupported();
        def = DeviceNaming.Assign(def);
        DomainValidation.Validate(def);
        return def;
    }

    private static DomainDefinition ParseDomain(XmlCursor c)
    {
        string type = c.Attr("type") ?? throw VireoException.Invalid("<domain> is missing the attribute 'type' (qemu or kvm)");
        if (type is not ("qemu" or "kvm"))
        {
            throw VireoException.Unsupported($"unsupported domain type '{type}': Vireo runs 'qemu' (TCG) and 'kvm' domains");
        }
        c.Attr("id");
        string name = ObjectName.Validate(c.ChildText("name")?.Trim(), "domain");
        string? uuidText = c.ChildText("uuid")?.Trim();
        Guid uuid;
        if (uuidText is null)
        {
            uuid = Guid.NewGuid();
        }
        else if (!TryParseUuid(uuidText, out uuid))
        {
            throw VireoException.Invalid($"domain uuid '{uuidText}' is not a valid UUID");
        }

        XmlCursor memory = c.Child("memory") ?? throw VireoException.Invalid("domain XML is missing <memory>");
        long memoryKiB = MemorySize.ToKiB(memory.Text, memory.Attr("unit"), "<memory>");
        memory.Attr("dumpCore");
        XmlCursor? current = c.Child("currentMemory");
        long currentKiB = current is null ? memoryKiB : MemorySize.ToKiB(current.Text, current.Attr("unit"), "<currentMemory>");
        XmlCursor? maxMemory = c.Child("maxMemory");

        XmlCursor? vcpu = c.Child("vcpu");
        int maxVcpus = vcpu is null ? 1 : vcpu.ParseInt(vcpu.Text, "vcpu") ?? 1;
        int vcpus = vcpu?.IntAttr("current") ?? maxVcpus;
        string? cpuset = vcpu?.Attr("cpuset");
        if (cpuset is not null)
        {
            CpuSet.Parse(cpuset, "<vcpu cpuset>");
        }

        XmlCursor? iothreads = c.Child("iothreads");
        var def = new DomainDefinition
        {
            Type = type,
            Name = name,
            Uuid = uuid,
            Title = c.ChildText("title"),
            Description = c.ChildText("description"),
            MemoryKiB = memoryKiB,
            CurrentMemoryKiB = Math.Min(currentKiB, memoryKiB),
            MaxMemoryKiB = maxMemory is null ? null : MemorySize.ToKiB(maxMemory.Text, maxMemory.Attr("unit"), "<maxMemory>"),
            MemorySlots = maxMemory?.IntAttr("slots"),
            Vcpus = vcpus,
            MaxVcpus = maxVcpus,
            VcpuPlacement = vcpu?.OneOf("placement", "static", "auto"),
            VcpuCpuset = cpuset,
            IoThreads = iothreads is null ? 0 : iothreads.ParseInt(iothreads.Text, "iothreads") ?? 0,
            CpuTune = CpuTune.Parse(c.Child("cputune")),
            NumaTune = NumaTune.Parse(c.Child("numatune")),
            MemoryBacking = MemoryBacking.Parse(c.Child("memoryBacking")),
            Os = OsConfig.Parse(c.Child("os") ?? throw VireoException.Invalid("domain XML is missing <os>")),
            Features = Features.Parse(c.Child("features")),
            Cpu = CpuConfig.Parse(c.Child("cpu")),
            Clock = ClockConfig.Parse(c.Child("clock")),
            OnPoweroff = LifecycleActions.Parse(c.ChildText("on_poweroff"), "on_poweroff", LifecycleAction.Destroy),
            OnReboot = LifecycleActions.Parse(c.ChildText("on_reboot"), "on_reboot", LifecycleAction.Restart),
            OnCrash = LifecycleActions.Parse(c.ChildText("on_crash"), "on_crash", LifecycleAction.Destroy),
            Devices = DomainDevices.Parse(c.Child("devices")),
        };
        memory.Leftovers();
        current?.Leftovers();
        maxMemory?.Leftovers();
        vcpu?.Leftovers();
        iothreads?.Leftovers();
        def = def with { Extra = c.Leftovers() };
        DomainPlatform.Validate(def);
        return def;
    }

    /// <summary>Accepts libvirt's forms: 32 hex digits, optionally with dashes anywhere between byte pairs.</summary>
    private static bool TryParseUuid(string text, out Guid uuid)
    {
        string hex = text.Replace("-", "", StringComparison.Ordinal);
        if (hex.Length == 32 && hex.All(char.IsAsciiHexDigit))
        {
            uuid = Guid.ParseExact(hex, "N");
            return true;
        }
        uuid = Guid.Empty;
        return false;
    }

    /// <summary>Writes the definition as libvirt domain XML with two-space indentation, like <c>virsh dumpxml</c>.</summary>
    public string ToXml()
    {
        XElement root = ToXElement();
        var settings = new XmlWriterSettings
        {
            OmitXmlDeclaration = true,
            Indent = true,
            IndentChars = "  ",
            NewLineChars = "\n",
            NewLineHandling = NewLineHandling.Replace,
        };
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        using (var writer = XmlWriter.Create(sw, settings))
        {
            root.Save(writer);
        }
        return sw.ToString().Replace(" />", "/>", StringComparison.Ordinal) + "\n";
    }

    internal XElement ToXElement()
    {
        var e = new XElement("domain", new XAttribute("type", Type));
        e.Add(new XElement("name", Name));
        e.Add(new XElement("uuid", Uuid.ToString("D")));
        e.TextChild("title", Title).TextChild("description", Description);
        foreach (XElement m in Extra.Elements.Where(x => x.Name == "metadata"))
        {
            e.Add(new XElement(m));
        }
        if (MaxMemoryKiB is long max)
        {
            e.Add(new XElement("maxMemory", new XAttribute("unit", "KiB"), XmlOut.Text(max)).Attr("slots", MemorySlots));
        }
        e.Add(new XElement("memory", new XAttribute("unit", "KiB"), XmlOut.Text(MemoryKiB)));
        e.Add(new XElement("currentMemory", new XAttribute("unit", "KiB"), XmlOut.Text(CurrentMemoryKiB)));
        e.Child(MemoryBacking?.ToXml());
        var vcpu = new XElement("vcpu", XmlOut.Text(MaxVcpus)).Attr("placement", VcpuPlacement ?? "static").Attr("cpuset", VcpuCpuset);
        if (Vcpus != MaxVcpus)
        {
            vcpu.Attr("current", Vcpus);
        }
        e.Add(vcpu);
        if (IoThreads > 0)
        {
            e.Add(new XElement("iothreads", XmlOut.Text(IoThreads)));
        }
        e.Child(CpuTune?.ToXml());
        e.Child(NumaTune?.ToXml());
        e.Add(Os.ToXml());
        e.Child(Features.ToXml());
        e.Child(Cpu?.ToXml());
        e.Add(Clock.ToXml());
        e.Add(new XElement("on_poweroff", LifecycleActions.Name(OnPoweroff)));
        e.Add(new XElement("on_reboot", LifecycleActions.Name(OnReboot)));
        e.Add(new XElement("on_crash", LifecycleActions.Name(OnCrash)));
        foreach (XElement x in Extra.Elements.Where(x => x.Name != "metadata"))
        {
            e.Add(new XElement(x));
        }
        foreach (XAttribute a in Extra.Attributes)
        {
            e.SetAttributeValue(a.Name, a.Value);
        }
        e.Add(Devices.ToXml());
        return e;
    }
}
