using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary><c>&lt;memballoon&gt;</c>: virtio balloon (with a stats period) or none.</summary>
public sealed record MemBalloon
{
    public string Model { get; init; } = "virtio";
    public int? StatsPeriod { get; init; }
    public bool? AutoDeflate { get; init; }
    public bool? FreePageReporting { get; init; }
    public DeviceAddress? Address { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static MemBalloon Parse(XmlCursor c)
    {
        XmlCursor? stats = c.Child("stats");
        var b = new MemBalloon
        {
            Model = c.OneOf("model", "virtio", "virtio-transitional", "virtio-non-transitional", "none") ?? throw VireoException.Invalid("<memballoon> is missing 'model'"),
            StatsPeriod = stats?.IntAttr("period"),
            AutoDeflate = c.YesNo("autodeflate"),
            FreePageReporting = c.YesNo("freePageReporting"),
            Address = DeviceAddress.Parse(c),
        };
        stats?.Leftovers();
        return b with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("memballoon", new XAttribute("model", Model)).OnOff("autodeflate", AutoDeflate).OnOff("freePageReporting", FreePageReporting);
        if (StatsPeriod is int p)
        {
            e.Add(new XElement("stats").Attr("period", p));
        }
        return e.Child(Address?.ToXml()).With(Extra);
    }
}

/// <summary><c>&lt;rng model='virtio'&gt;</c> with a random (device), builtin or egd backend and an optional rate limit.</summary>
public sealed record RngDevice
{
    public string Model { get; init; } = "virtio";
    /// <summary><c>random</c>, <c>builtin</c> or <c>egd</c>.</summary>
    public string BackendModel { get; init; } = "random";
    /// <summary>The random device for <c>random</c> (default /dev/urandom).</summary>
    public string? SourcePath { get; init; }
    /// <summary>The chardev of an <c>egd</c> backend.</summary>
    public CharDevice? Egd { get; init; }
    public int? RateBytes { get; init; }
    public int? RatePeriodMs { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static RngDevice Parse(XmlCursor c)
    {
        string model = c.OneOf("model", "virtio", "virtio-transitional", "virtio-non-transitional") ?? "virtio";
        XmlCursor backend = c.Child("backend") ?? throw VireoException.Invalid("<rng> is missing <backend>");
        string backendModel = backend.OneOf("model", "random", "builtin", "egd") ?? "random";
        CharDevice? egd = null;
        string? path = null;
        if (backendModel == "egd")
        {
            // The egd backend is a chardev: its type attribute and <source>/<protocol> children.
            egd = CharDevice.Parse(backend, "rng-egd");
        }
        else
        {
            path = backendModel == "random" && backend.Text.Trim() is { Length: > 0 } p ? p : null;
            backend.Leftovers();
        }
        XmlCursor? rate = c.Child("rate");
        var rng = new RngDevice
        {
            Model = model,
            BackendModel = backendModel,
            SourcePath = path,
            Egd = egd,
            RateBytes = rate?.IntAttr("bytes"),
            RatePeriodMs = rate?.IntAttr("period"),
            Address = DeviceAddress.Parse(c),
        };
        rate?.Leftovers();
        return rng with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("rng", new XAttribute("model", Model));
        if (RateBytes is not null || RatePeriodMs is not null)
        {
            e.Add(new XElement("rate").Attr("bytes", RateBytes).Attr("period", RatePeriodMs));
        }
        var backend = new XElement("backend", new XAttribute("model", BackendModel));
        if (BackendModel == "random" && SourcePath is not null)
        {
            backend.Value = SourcePath;
        }
        else if (Egd is not null)
        {
            XElement chr = Egd.ToXml();
            backend.Add(new XAttribute("type", Egd.Type), chr.Elements());
        }
        e.Add(backend);
        return e.Child(Address?.ToXml()).With(Extra);
    }
}

/// <summary><c>&lt;input type bus&gt;</c>: tablet, mouse, keyboard on ps2, usb or virtio.</summary>
public sealed record InputDevice
{
    public required string Type { get; init; }
    public string? Bus { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static InputDevice Parse(XmlCursor c)
    {
        string type = c.OneOf("type", "mouse", "tablet", "keyboard") ?? throw VireoException.Invalid("<input> is missing 'type'");
        string? bus = c.OneOf("bus", "ps2", "usb", "virtio");
        if (type == "tablet" && bus == "ps2")
        {
            throw VireoException.Invalid("<input type='tablet'> cannot use bus 'ps2'; use usb or virtio");
        }
        return new InputDevice { Type = type, Bus = bus, Address = DeviceAddress.Parse(c), Extra = c.Leftovers() };
    }

    internal XElement ToXml() =>
        new XElement("input", new XAttribute("type", Type)).Attr("bus", Bus).Child(Address?.ToXml()).With(Extra);
}

/// <summary><c>&lt;sound model&gt;</c>: ich6, ich9, ac97, es1370, sb16, usb.</summary>
public sealed record SoundDevice
{
    public required string Model { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static SoundDevice Parse(XmlCursor c) =>
        new()
        {
            Model = c.OneOf("model", "ich6", "ich9", "ac97", "es1370", "sb16", "usb", "ich7") ?? throw VireoException.Invalid("<sound> is missing 'model'"),
            Address = DeviceAddress.Parse(c),
            Extra = c.Leftovers(),
        };

    internal XElement ToXml() => new XElement("sound", new XAttribute("model", Model)).Child(Address?.ToXml()).With(Extra);
}

/// <summary><c>&lt;audio id type&gt;</c>: the host audio backend (Vireo supports <c>none</c>).</summary>
public sealed record AudioBackend(int Id, string Type)
{
    internal static AudioBackend Parse(XmlCursor c)
    {
        var a = new AudioBackend(c.IntAttr("id") ?? 1, c.OneOf("type", "none") ?? "none");
        c.Leftovers();
        return a;
    }

    internal XElement ToXml() => new XElement("audio").Attr("id", Id).Attr("type", Type);
}

/// <summary><c>&lt;watchdog model action&gt;</c>: i6300esb, ib700, itco, diag288.</summary>
public sealed record WatchdogDevice
{
    public required string Model { get; init; }
    public string? Action { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static WatchdogDevice Parse(XmlCursor c) =>
        new()
        {
            Model = c.OneOf("model", "i6300esb", "ib700", "itco") ?? throw VireoException.Invalid("<watchdog> is missing 'model'"),
            Action = c.OneOf("action", "reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi"),
            Address = DeviceAddress.Parse(c),
            Extra = c.Leftovers(),
        };

    internal XElement ToXml() =>
        new XElement("watchdog", new XAttribute("model", Model)).Attr("action", Action).Child(Address?.ToXml()).With(Extra);
}

/// <summary><c>&lt;panic model&gt;</c>: isa (pvpanic) or hyperv.</summary>
public sealed record PanicDevice
{
    public string? Model { get; init; }
    public DeviceAddress? Address { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static PanicDevice Parse(XmlCursor c) =>
        new() { Model = c.OneOf("model", "isa", "hyperv", "pvpanic"), Address = DeviceAddress.Parse(c), Extra = c.Leftovers() };

    internal XElement ToXml() => new XElement("panic").Attr("model", Model).Child(Address?.ToXml()).With(Extra);
}

/// <summary><c>&lt;tpm model&gt;</c> with an emulator (swtpm) or passthrough backend.</summary>
public sealed record TpmDevice
{
    public string Model { get; init; } = "tpm-tis";
    public string BackendType { get; init; } = "emulator";
    public string? BackendVersion { get; init; }
    public string? DevicePath { get; init; }
    public UnmodeledXml BackendExtra { get; init; } = UnmodeledXml.Empty;
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static TpmDevice Parse(XmlCursor c)
    {
        XmlCursor backend = c.Child("backend") ?? throw VireoException.Invalid("<tpm> is missing <backend>");
        XmlCursor? device = backend.Child("device");
        var t = new TpmDevice
        {
            Model = c.OneOf("model", "tpm-tis", "tpm-crb") ?? "tpm-tis",
            BackendType = backend.OneOf("type", "emulator", "passthrough") ?? "emulator",
            BackendVersion = backend.OneOf("version", "1.2", "2.0"),
            DevicePath = device?.Attr("path"),
        };
        device?.Leftovers();
        return t with { BackendExtra = backend.Leftovers(), Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var backend = new XElement("backend", new XAttribute("type", BackendType)).Attr("version", BackendVersion);
        if (DevicePath is not null)
        {
            backend.Add(new XElement("device", new XAttribute("path", DevicePath)));
        }
        return new XElement("tpm", new XAttribute("model", Model), backend.With(BackendExtra)).With(Extra);
    }
}

/// <summary><c>&lt;hostdev mode='subsystem' type='pci'&gt;</c>: a host PCI function given to the guest through vfio-pci.</summary>
public sealed record HostdevDevice
{
    public required DeviceAddress SourceAddress { get; init; }
    public bool Managed { get; init; }
    public string? DriverName { get; init; }
    public int? BootOrder { get; init; }
    public string? RomBar { get; init; }
    public string? RomFile { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static HostdevDevice Parse(XmlCursor c)
    {
        string mode = c.Attr("mode") ?? "subsystem";
        string? type = c.Attr("type");
        if (mode != "subsystem" || type != "pci")
        {
            throw VireoException.Unsupported($"unsupported element <devices/hostdev mode='{mode}' type='{type}'>: Vireo supports PCI host devices only");
        }
        XmlCursor source = c.Child("source") ?? throw VireoException.Invalid("<hostdev> is missing <source>");
        DeviceAddress address = DeviceAddress.Parse(source, "pci") ?? throw VireoException.Invalid("<hostdev/source> is missing <address>");
        XmlCursor? driver = c.Child("driver");
        string? driverName = driver?.Attr("name");
        if (driverName is not (null or "vfio") || driver?.Attr("model") is not null)
        {
            throw VireoException.Unsupported($"unsupported <hostdev/driver> '{driverName}{(driver?.Attr("model") is string m ? " model " + m : "")}': Vireo uses vfio-pci");
        }
        XmlCursor? boot = c.Child("boot");
        XmlCursor? rom = c.Child("rom");
        var h = new HostdevDevice
        {
            SourceAddress = address,
            Managed = c.YesNo("managed") ?? false,
            DriverName = driverName,
            BootOrder = boot?.IntAttr("order"),
            RomBar = rom?.Attr("bar"),
            RomFile = rom?.Attr("file"),
            Address = DeviceAddress.Parse(c),
        };
        source.Leftovers();
        driver?.Leftovers();
        boot?.Leftovers();
        rom?.Leftovers();
        return h with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("hostdev", new XAttribute("mode", "subsystem"), new XAttribute("type", "pci"), new XAttribute("managed", Managed ? "yes" : "no"));
        if (DriverName is not null)
        {
            e.Add(new XElement("driver", new XAttribute("name", DriverName)));
        }
        // The schema's hostdev source address has no type attribute: it is always PCI here.
        XElement source = SourceAddress.ToXml();
        source.Attribute("type")?.Remove();
        e.Add(new XElement("source", source));
        if (BootOrder is int order)
        {
            e.Add(new XElement("boot").Attr("order", order));
        }
        if (RomBar is not null || RomFile is not null)
        {
            e.Add(new XElement("rom").Attr("bar", RomBar).Attr("file", RomFile));
        }
        return e.Child(Address?.ToXml()).With(Extra);
    }
}

/// <summary><c>&lt;memory model='dimm'&gt;</c>: a hot-pluggable DIMM of a size on a guest NUMA node.</summary>
public sealed record MemoryDevice
{
    public string Model { get; init; } = "dimm";
    public long SizeKiB { get; init; }
    public int? TargetNode { get; init; }
    public long? SourcePageSizeKiB { get; init; }
    public string? SourceNodemask { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static MemoryDevice Parse(XmlCursor c)
    {
        string model = c.OneOf("model", "dimm") ?? "dimm";
        XmlCursor target = c.Child("target") ?? throw VireoException.Invalid("<memory model='dimm'> is missing <target>");
        XmlCursor size = target.Child("size") ?? throw VireoException.Invalid("<memory/target> is missing <size>");
        XmlCursor? source = c.Child("source");
        XmlCursor? page = source?.Child("pagesize");
        var d = new MemoryDevice
        {
            Model = model,
            SizeKiB = MemorySize.ToKiB(size.Text, size.Attr("unit"), "<memory/target/size>"),
            TargetNode = target.ChildText("node") is string n ? target.ParseInt(n, "node") : null,
            SourcePageSizeKiB = page is null ? null : MemorySize.ToKiB(page.Text, page.Attr("unit"), "<memory/source/pagesize>"),
            SourceNodemask = source?.ChildText("nodemask"),
            Address = DeviceAddress.Parse(c),
        };
        size.Leftovers();
        page?.Leftovers();
        source?.Leftovers();
        target.Leftovers();
        return d with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("memory", new XAttribute("model", Model));
        if (SourcePageSizeKiB is not null || SourceNodemask is not null)
        {
            var s = new XElement("source").TextChild("nodemask", SourceNodemask);
            if (SourcePageSizeKiB is long ps)
            {
                s.Add(new XElement("pagesize", new XAttribute("unit", "KiB"), XmlOut.Text(ps)));
            }
            e.Add(s);
        }
        var t = new XElement("target", new XElement("size", new XAttribute("unit", "KiB"), XmlOut.Text(SizeKiB)));
        if (TargetNode is int node)
        {
            t.Add(new XElement("node", XmlOut.Text(node)));
        }
        e.Add(t);
        return e.Child(Address?.ToXml()).With(Extra);
    }
}
