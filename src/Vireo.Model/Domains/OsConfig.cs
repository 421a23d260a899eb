using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>The <c>&lt;os&gt;</c> element: machine, firmware, direct kernel boot and boot order.</summary>
public sealed record OsConfig
{
    public string Type { get; init; } = "hvm";
    public string Arch { get; init; } = "x86_64";
    public string? Machine { get; init; }
    /// <summary><c>efi</c> or <c>bios</c> when the firmware is chosen automatically.</summary>
    public string? Firmware { get; init; }
    public FirmwareLoader? Loader { get; init; }
    public NvramConfig? Nvram { get; init; }
    public string? Kernel { get; init; }
    public string? Initrd { get; init; }
    public string? Cmdline { get; init; }
    public string? Dtb { get; init; }
    /// <summary>Boot devices in order: <c>hd</c>, <c>cdrom</c>, <c>network</c>, <c>fd</c>.</summary>
    public IReadOnlyList<string> BootDevices { get; init; } = [];
    public bool? BootMenu { get; init; }
    public int? BootMenuTimeoutMs { get; init; }
    /// <summary><c>&lt;smbios mode&gt;</c>: emulate, host or sysinfo.</summary>
    public string? SmbiosMode { get; init; }
    public bool? BiosUseSerial { get; init; }
    public int? BiosRebootTimeout { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    /// <summary>The machine type normalised for decisions: <c>q35</c> when it is a q35 variant, else <c>pc</c>.</summary>
    public bool IsQ35 => Machine is not null && Machine.Contains("q35", StringComparison.Ordinal);

    internal static OsConfig Parse(XmlCursor c)
    {
        XmlCursor? type = c.Child("type");
        string osType = type?.Text.Trim() ?? "hvm";
        if (osType != "hvm")
        {
            throw VireoException.Unsupported($"unsupported value '{osType}' for <os/type>: Vireo runs hvm guests only");
        }
        string arch = type?.Attr("arch") ?? "x86_64";
        if (arch is not ("x86_64" or "i686"))
        {
            throw VireoException.Unsupported($"unsupported value '{arch}' for <os/type arch>: Vireo runs x86_64 and i686 guests");
        }
        string? machine = type?.Attr("machine");
        UnmodeledXml typeExtra = type?.Leftovers() ?? UnmodeledXml.Empty;
        _ = typeExtra;
        var boots = new List<string>();
        foreach (XmlCursor b in c.Children("boot"))
        {
            string dev = b.Require("dev");
            if (dev is not ("hd" or "cdrom" or "network" or "fd"))
            {
                throw VireoException.Invalid($"<os/boot dev='{dev}'> is not one of: hd, cdrom, network, fd");
            }
            boots.Add(dev);
            b.Leftovers();
        }
        XmlCursor? menu = c.Child("bootmenu");
        XmlCursor? smbios = c.Child("smbios");
        XmlCursor? bios = c.Child("bios");
        string? firmware = c.OneOf("firmware", "efi", "bios");
        var os = new OsConfig
        {
            Type = osType,
            Arch = arch,
            Machine = machine,
            Firmware = firmware,
            Loader = FirmwareLoader.Parse(c.Child("loader")),
            Nvram = NvramConfig.Parse(c.Child("nvram")),
            Kernel = c.ChildText("kernel"),
            Initrd = c.ChildText("initrd"),
            Cmdline = c.ChildText("cmdline"),
            Dtb = c.ChildText("dtb"),
            BootDevices = boots,
            BootMenu = menu?.YesNo("enable"),
            BootMenuTimeoutMs = menu?.IntAttr("timeout"),
            SmbiosMode = smbios?.OneOf("mode", "emulate", "host", "sysinfo"),
            BiosUseSerial = bios?.YesNo("useserial"),
            BiosRebootTimeout = bios?.IntAttr("rebootTimeout"),
        };
        menu?.Leftovers();
        smbios?.Leftovers();
        bios?.Leftovers();
        if (os.Firmware is "efi" && os.Loader?.Path is null && os.IsQ35 is false && os.Machine is null)
        {
            // Nothing to check: q35 and pc both boot OVMF.
        }
        return os with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var os = new XElement("os").Attr("firmware", Firmware);
        os.Add(new XElement("type", Type).Attr("arch", Arch).Attr("machine", Machine));
        os.Child(Loader?.ToXml()).Child(Nvram?.ToXml());
        os.TextChild("kernel", Kernel).TextChild("initrd", Initrd).TextChild("cmdline", Cmdline).TextChild("dtb", Dtb);
        foreach (string b in BootDevices)
        {
            os.Add(new XElement("boot", new XAttribute("dev", b)));
        }
        if (BootMenu is not null || BootMenuTimeoutMs is not null)
        {
            os.Add(new XElement("bootmenu").YesNo("enable", BootMenu).Attr("timeout", BootMenuTimeoutMs));
        }
        if (SmbiosMode is not null)
        {
            os.Add(new XElement("smbios", new XAttribute("mode", SmbiosMode)));
        }
        if (BiosUseSerial is not null || BiosRebootTimeout is not null)
        {
            os.Add(new XElement("bios").YesNo("useserial", BiosUseSerial).Attr("rebootTimeout", BiosRebootTimeout));
        }
        return os.With(Extra);
    }
}

/// <summary><c>&lt;loader&gt;</c>: the firmware image (OVMF code) and how it is mapped.</summary>
public sealed record FirmwareLoader
{
    public string? Path { get; init; }
    public bool? ReadOnly { get; init; }
    /// <summary><c>rom</c> or <c>pflash</c>.</summary>
    public string? Type { get; init; }
    public bool? Secure { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static FirmwareLoader? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        string path = c.Text.Trim();
        return new FirmwareLoader
        {
            Path = path.Length == 0 ? null : path,
            ReadOnly = c.YesNo("readonly"),
            Type = c.OneOf("type", "rom", "pflash"),
            Secure = c.YesNo("secure"),
            Extra = c.Leftovers(),
        };
    }

    internal XElement ToXml() =>
        new XElement("loader", Path).YesNo("readonly", ReadOnly).Attr("secure", Secure is bool s ? (s ? "yes" : "no") : null)
            .Attr("type", Type).With(Extra);
}

/// <summary><c>&lt;nvram&gt;</c>: the per-domain UEFI variable store and the template it is copied from.</summary>
public sealed record NvramConfig
{
    public string? Path { get; init; }
    public string? Template { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static NvramConfig? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        string path = c.Text.Trim();
        return new NvramConfig { Path = path.Length == 0 ? null : path, Template = c.Attr("template"), Extra = c.Leftovers() };
    }

    internal XElement ToXml() => new XElement("nvram", Path).Attr("template", Template).With(Extra);
}
