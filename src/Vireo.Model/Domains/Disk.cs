using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>A <c>&lt;disk&gt;</c>: where the data lives (file, block device or pool volume), its format and how the guest sees it.</summary>
public sealed record Disk
{
    /// <summary><c>file</c>, <c>block</c> or <c>volume</c>.</summary>
    public string Type { get; init; } = "file";
    /// <summary><c>disk</c>, <c>cdrom</c>, <c>floppy</c> or <c>lun</c>.</summary>
    public string Device { get; init; } = "disk";
    public string? DriverName { get; init; }
    /// <summary>Image format: <c>raw</c>, <c>qcow2</c>... (null: raw).</summary>
    public string? Format { get; init; }
    public string? Cache { get; init; }
    public string? Io { get; init; }
    public string? Discard { get; init; }
    public string? DetectZeroes { get; init; }
    public int? Queues { get; init; }
    public int? IoThread { get; init; }
    public string? ErrorPolicy { get; init; }
    public bool? EventIdx { get; init; }
    public bool? IoEventFd { get; init; }
    public UnmodeledXml DriverExtra { get; init; } = UnmodeledXml.Empty;
    /// <summary>The file or block device path; null for an empty cdrom or a volume.</summary>
    public string? SourcePath { get; init; }
    public string? SourcePool { get; init; }
    public string? SourceVolume { get; init; }
    public UnmodeledXml SourceExtra { get; init; } = UnmodeledXml.Empty;
    /// <summary>The backing chain below the source, top first. Empty when not given (read from the image then).</summary>
    public IReadOnlyList<BackingStore> BackingChain { get; init; } = [];
    /// <summary>An explicit empty <c>&lt;backingStore/&gt;</c>: the image has no backing file.</summary>
    public bool BackingChainTerminated { get; init; }
    public required string TargetDev { get; init; }
    /// <summary><c>virtio</c>, <c>sata</c>, <c>ide</c>, <c>scsi</c>, <c>usb</c> or <c>fdc</c>.</summary>
    public required string Bus { get; init; }
    public string? Tray { get; init; }
    public bool? Removable { get; init; }
    public int? RotationRate { get; init; }
    public bool ReadOnly { get; init; }
    public bool Shareable { get; init; }
    public bool Transient { get; init; }
    public string? Serial { get; init; }
    public string? Wwn { get; init; }
    public int? BootOrder { get; init; }
    public IReadOnlyList<(string Name, long Value)> IoTune { get; init; } = [];
    public string? IoTuneGroup { get; init; }
    public DeviceAddress? Address { get; init; }
    /// <summary>The device id QEMU knows it by (<c>virtio-disk0</c>, <c>sata0-0-0</c>...), as libvirt names it.</summary>
    public string Alias { get; init; } = "";
    /// <summary>A user alias from the XML (<c>ua-*</c>), written back.</summary>
    public string? UserAlias { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    public bool IsCdrom => Device == "cdrom";

    /// <summary>The node names this disk's top layers get in QEMU (<c>libvirt-N-format</c>/<c>-storage</c> style uses an index).</summary>
    public string EffectiveFormat => Format ?? "raw";

    private static readonly string[] IoTuneNames =
    [
        "total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec",
        "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max", "total_iops_sec_max", "read_iops_sec_max",
        "write_iops_sec_max", "size_iops_sec", "total_bytes_sec_max_length", "read_bytes_sec_max_length",
        "write_bytes_sec_max_length", "total_iops_sec_max_length", "read_iops_sec_max_length", "write_iops_sec_max_length",
    ];

    internal static Disk Parse(XmlCursor c)
    {
        string type = c.OneOf("type", "file", "block", "volume") ?? "file";
        string device = c.OneOf("device", "disk", "cdrom", "floppy", "lun") ?? "disk";
        XmlCursor target = c.Child("target") ?? throw VireoException.Invalid("<devices/disk> is missing <target>");
        string dev = target.Require("dev");
        string bus = target.OneOf("bus", "virtio", "sata", "ide", "scsi", "usb", "fdc") ?? DiskNames.DefaultBus(dev);
        if (!DiskNames.TryIndex(dev, out _))
        {
            throw VireoException.Invalid($"<devices/disk/target dev='{dev}'> is not a disk name like vda, sda, hda or fda");
        }
        if (device == "lun" && type != "block")
        {
            throw VireoException.Unsupported($"<disk device='lun'> for '{dev}' needs type='block'");
        }

        XmlCursor? driver = c.Child("driver");
        XmlCursor? source = c.Child("source");
        string? path = null;
        string? pool = null;
        string? volume = null;
        if (source is not null)
        {
            path = type switch
            {
                "file" => source.Attr("file"),
                "block" => source.Attr("dev"),
                _ => null,
            };
            if (type == "volume")
            {
                pool = source.Require("pool");
                volume = source.Require("volume");
            }
            if (path is not null && path.Length == 0)
            {
                throw VireoException.Invalid($"<devices/disk> '{dev}' has an empty source path");
            }
        }
        if (source is null && !(device is "cdrom" or "floppy"))
        {
            throw VireoException.Invalid($"<devices/disk> '{dev}' has no <source>; only a cdrom or floppy may be empty");
        }

        var (chain, terminated) = BackingStore.ParseChain(c);
        var tune = new List<(string, long)>();
        string? group = null;
        XmlCursor? iotune = c.Child("iotune");
        if (iotune is not null)
        {
            foreach (string name in IoTuneNames)
            {
                if (iotune.ChildText(name) is string v)
                {
                    tune.Add((name, iotune.ParseLong(v, name) ?? 0));
                }
            }
            group = iotune.ChildText("group_name");
            iotune.Leftovers();
        }
        XmlCursor? boot = c.Child("boot");
        XmlCursor? alias = c.Child("alias");
        var disk = new Disk
        {
            Type = type,
            Device = device,
            DriverName = driver?.OneOf("name", "qemu"),
            Format = driver?.OneOf("type", "raw", "qcow2", "qcow", "vmdk", "vdi", "vpc", "vhdx", "qed", "luks", "cloop", "dmg", "bochs", "parallels"),
            Cache = driver?.OneOf("cache", "default", "none", "writethrough", "writeback", "directsync", "unsafe"),
            Io = driver?.OneOf("io", "threads", "native", "io_uring", "default"),
            Discard = driver?.OneOf("discard", "unmap", "ignore"),
            DetectZeroes = driver?.OneOf("detect_zeroes", "off", "on", "unmap"),
            Queues = driver?.IntAttr("queues"),
            IoThread = driver?.IntAttr("iothread"),
            ErrorPolicy = driver?.OneOf("error_policy", "stop", "report", "ignore", "enospace"),
            EventIdx = driver?.YesNo("event_idx"),
            IoEventFd = driver?.YesNo("ioeventfd"),
            SourcePath = path,
            SourcePool = pool,
            SourceVolume = volume,
            BackingChain = chain,
            BackingChainTerminated = terminated,
            TargetDev = dev,
            Bus = bus,
            Tray = target.OneOf("tray", "open", "closed"),
            Removable = target.YesNo("removable"),
            RotationRate = target.IntAttr("rotation_rate"),
            ReadOnly = c.HasChild("readonly"),
            Shareable = c.HasChild("shareable"),
            Transient = c.HasChild("transient"),
            Serial = c.ChildText("serial"),
            Wwn = c.ChildText("wwn"),
            BootOrder = boot?.IntAttr("order"),
            IoTune = tune,
            IoTuneGroup = group,
            Address = DeviceAddress.Parse(c),
            UserAlias = alias?.Attr("name") is string a && a.StartsWith("ua-", StringComparison.Ordinal) ? a : null,
        };
        if (disk.Format is not (null or "raw" or "qcow2"))
        {
            throw VireoException.Unsupported($"unsupported value '{disk.Format}' for <devices/disk/driver type> of '{dev}'; Vireo supports raw and qcow2");
        }
        if (disk.IsCdrom && !(bus is "ide" or "sata" or "scsi" or "usb"))
        {
            throw VireoException.Invalid($"cdrom '{dev}' cannot use bus '{bus}'; use sata, ide, scsi or usb");
        }
        if (disk.Transient)
        {
            throw VireoException.Unsupported($"unsupported element <devices/disk/transient> on '{dev}'");
        }
        disk = disk with
        {
            DriverExtra = driver?.Leftovers() ?? UnmodeledXml.Empty,
            SourceExtra = source?.Leftovers() ?? UnmodeledXml.Empty,
        };
        target.Leftovers();
        boot?.Leftovers();
        alias?.Leftovers();
        return disk with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("disk", new XAttribute("type", Type), new XAttribute("device", Device));
        if (DriverName is not null || Format is not null || Cache is not null || Io is not null || Discard is not null ||
            DetectZeroes is not null || Queues is not null || IoThread is not null || ErrorPolicy is not null || EventIdx is not null ||
            IoEventFd is not null || !DriverExtra.IsEmpty)
        {
            e.Add(new XElement("driver").Attr("name", DriverName ?? "qemu").Attr("type", Format).Attr("cache", Cache)
                .Attr("error_policy", ErrorPolicy).Attr("io", Io).Attr("discard", Discard).Attr("detect_zeroes", DetectZeroes)
                .OnOff("ioeventfd", IoEventFd).OnOff("event_idx", EventIdx).Attr("queues", Queues).Attr("iothread", IoThread).With(DriverExtra));
        }
        if (SourcePath is not null || SourcePool is not null || !SourceExtra.IsEmpty)
        {
            var source = new XElement("source");
            switch (Type)
            {
                case "file":
                    source.Attr("file", SourcePath);
                    break;
                case "block":
                    source.Attr("dev", SourcePath);
                    break;
                default:
                    source.Attr("pool", SourcePool).Attr("volume", SourceVolume);
                    break;
            }
            e.Add(source.With(SourceExtra));
        }
        e.Child(BackingStore.ChainToXml(BackingChain, BackingChainTerminated));
        e.Add(new XElement("target", new XAttribute("dev", TargetDev), new XAttribute("bus", Bus)).Attr("tray", Tray)
            .YesNo("removable", Removable).Attr("rotation_rate", RotationRate));
        if (IoTune.Count > 0 || IoTuneGroup is not null)
        {
            var t = new XElement("iotune");
            foreach (var (name, value) in IoTune)
            {
                t.Add(new XElement(name, XmlOut.Text(value)));
            }
            t.TextChild("group_name", IoTuneGroup);
            e.Add(t);
        }
        if (BootOrder is int order)
        {
            e.Add(new XElement("boot").Attr("order", order));
        }
        if (ReadOnly)
        {
            e.Add(new XElement("readonly"));
        }
        if (Shareable)
        {
            e.Add(new XElement("shareable"));
        }
        e.TextChild("serial", Serial).TextChild("wwn", Wwn);
        if (UserAlias is not null)
        {
            e.Add(new XElement("alias", new XAttribute("name", UserAlias)));
        }
        e.Child(Address?.ToXml());
        return e.With(Extra);
    }
}

/// <summary>One layer below a disk's source: <c>&lt;backingStore type&gt;&lt;format&gt;&lt;source&gt;</c>.</summary>
public sealed record BackingStore
{
    public string Type { get; init; } = "file";
    public string Format { get; init; } = "raw";
    public required string Path { get; init; }
    public UnmodeledXml SourceExtra { get; init; } = UnmodeledXml.Empty;

    internal static (IReadOnlyList<BackingStore> Chain, bool Terminated) ParseChain(XmlCursor disk)
    {
        var chain = new List<BackingStore>();
        XmlCursor? current = disk.Child("backingStore");
        bool terminated = false;
        while (current is not null)
        {
            string? type = current.OneOf("type", "file", "block");
            if (type is null)
            {
                // <backingStore/>: the chain ends here.
                terminated = true;
                current.Leftovers();
                break;
            }
            XmlCursor? format = current.Child("format");
            XmlCursor source = current.Child("source") ?? throw VireoException.Invalid($"<{current.Path}> is missing <source>");
            string fmt = format?.Attr("type") ?? "raw";
            if (fmt is not ("raw" or "qcow2"))
            {
                throw VireoException.Unsupported($"unsupported value '{fmt}' for <{current.Path}/format type>; Vireo supports raw and qcow2");
            }
            string path = (type == "file" ? source.Attr("file") : source.Attr("dev")) ?? throw VireoException.Invalid($"<{current.Path}/source> has no path");
            format?.Leftovers();
            chain.Add(new BackingStore { Type = type, Format = fmt, Path = path, SourceExtra = source.Leftovers() });
            XmlCursor? next = current.Child("backingStore");
            current.Leftovers();
            current = next;
        }
        return (chain, terminated);
    }

    internal static XElement? ChainToXml(IReadOnlyList<BackingStore> chain, bool terminated)
    {
        XElement? tail = terminated ? new XElement("backingStore") : null;
        for (int i = chain.Count - 1; i >= 0; i--)
        {
            BackingStore b = chain[i];
            var e = new XElement("backingStore", new XAttribute("type", b.Type),
                new XElement("format", new XAttribute("type", b.Format)),
                new XElement("source", new XAttribute(b.Type == "file" ? "file" : "dev", b.Path)).With(b.SourceExtra));
            e.Child(tail);
            tail = e;
        }
        return tail;
    }
}

/// <summary>Disk target names (<c>vda</c>, <c>sdb</c>, <c>hdc</c>, <c>sdaa</c>) and the index libvirt derives from them.</summary>
public static class DiskNames
{
    public static bool TryIndex(string dev, out int index)
    {
        index = 0;
        int prefix = dev.StartsWith("xvd", StringComparison.Ordinal) ? 3
            : dev.Length >= 2 && dev[..2] is "vd" or "sd" or "hd" or "fd" ? 2 : -1;
        if (prefix < 0 || dev.Length <= prefix || dev.Length > prefix + 4)
        {
            return false;
        }
        int value = 0;
        for (int i = prefix; i < dev.Length; i++)
        {
            char ch = dev[i];
            if (ch is < 'a' or > 'z')
            {
                return false;
            }
            value = value * 26 + (ch - 'a' + 1);
        }
        index = value - 1;
        return true;
    }

    public static int Index(string dev) => TryIndex(dev, out int i) ? i : throw VireoException.Invalid($"'{dev}' is not a disk target name");

    public static string DefaultBus(string dev) => dev[..2] switch
    {
        "vd" => "virtio",
        "hd" => "ide",
        "fd" => "fdc",
        _ => "scsi",
    };
}
