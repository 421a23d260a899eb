using System.Globalization;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// Disks as <c>-blockdev</c> graphs plus a <c>-device</c>: a protocol node per image (file or host_device), a format
/// node for qcow2 layers, one pair per backing layer linked by <c>backing</c>, and the frontend by bus.
/// </summary>
internal static class DiskArgs
{
    public static void Write(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        IReadOnlyList<Disk> disks = def.Devices.Disks;
        var bootIndex = BootOrder.Compute(def);
        int nodeCounter = TotalLayers(disks);
        for (int i = 0; i < disks.Count; i++)
        {
            Disk disk = disks[i];
            string? path = w.Options.ResolvedDiskSources.TryGetValue(i, out string? resolved) ? resolved : disk.SourcePath;
            if (disk.Type == "volume" && path is null)
            {
                throw new VireoException(ErrorKind.InvalidState, $"disk '{disk.TargetDev}' refers to volume '{disk.SourceVolume}' in pool '{disk.SourcePool}', which was not resolved to a path");
            }
            string? topNode = null;
            if (path is not null)
            {
                // Layers from the bottom of the chain up, so each format node can name its backing node.
                var layers = new List<(string Type, string Format, string Path)> { (disk.Type == "block" ? "block" : "file", disk.EffectiveFormat, path) };
                layers.AddRange(disk.BackingChain.Select(b => (b.Type, b.Format, b.Path)));
                int topIndex = nodeCounter;
                nodeCounter -= layers.Count;
                string? below = null;
                for (int layer = layers.Count - 1; layer >= 0; layer--)
                {
                    var (type, format, layerPath) = layers[layer];
                    int n = topIndex - layer;
                    bool top = layer == 0;
                    bool readOnly = !top || disk.ReadOnly;
                    string storage = Node(n, "storage");
                    var proto = new QemuOpts().Add("driver", Protocol(disk, type, layerPath)).Add("filename", layerPath).Add("node-name", storage);
                    if (top)
                    {
                        AddCacheAndIo(proto, disk);
                    }
                    bool raw = format == "raw";
                    if (raw)
                    {
                        proto.Add("read-only", readOnly);
                        if (disk.Discard is not null && top)
                        {
                            proto.Add("discard", disk.Discard);
                        }
                        if (top && disk.DetectZeroes is not null)
                        {
                            proto.Add("detect-zeroes", DetectZeroes(disk));
                        }
                    }
                    else
                    {
                        proto.Add("auto-read-only", true).Add("discard", "unmap");
                    }
                    w.Add("-blockdev", proto);
                    string nodeName = storage;
                    if (!raw)
                    {
                        string fmtNode = Node(n, "format");
                        var fmt = new QemuOpts().Add("node-name", fmtNode);
                        if (top)
                        {
                            AddCache(fmt, disk);
                        }
                        fmt.Add("read-only", readOnly);
                        if (top && disk.DetectZeroes is not null)
                        {
                            fmt.Add("detect-zeroes", DetectZeroes(disk));
                        }
                        if (top && disk.Discard is not null)
                        {
                            fmt.Add("discard", disk.Discard);
                        }
                        fmt.Add("driver", format).Add("file", storage);
                        if (below is not null)
                        {
                            fmt.Add("backing", below);
                        }
                        else if (disk.BackingChainTerminated || disk.BackingChain.Count > 0)
                        {
                            // The chain is known to end here: stop QEMU from opening a backing file named in the header.
                            fmt.AddNull("backing");
                        }
                        w.Add("-blockdev", fmt);
                        nodeName = fmtNode;
                    }
                    below = nodeName;
                }
                topNode = below;
                if (disk.IoTune.Count > 0)
                {
                    WriteThrottle(w, disk, ref topNode);
                }
            }
            WriteFrontend(w, disk, topNode, bootIndex.TryGetValue(disk, out int bi) ? bi : null);
        }
    }

    private static int TotalLayers(IReadOnlyList<Disk> disks) => disks.Sum(d => d.SourcePath is null && d.Type != "volume" ? 0 : 1 + d.BackingChain.Count);

    private static string Node(int n, string kind) => "libvirt-" + n.ToString(CultureInfo.InvariantCulture) + "-" + kind;

    /// <summary>host_cdrom only for real optical drives (it polls for media changes); other block devices are host_device.</summary>
    private static string Protocol(Disk disk, string type, string path) =>
        type == "block"
            ? (disk.IsCdrom && (path.StartsWith("/dev/cdrom", StringComparison.Ordinal) || path.StartsWith("/dev/sr", StringComparison.Ordinal)) ? "host_cdrom" : "host_device")
            : "file";

    private static string DetectZeroes(Disk disk) => disk.DetectZeroes == "unmap" && disk.Discard != "unmap" ? "on" : disk.DetectZeroes!;

    private static void AddCacheAndIo(QemuOpts proto, Disk disk)
    {
        if (disk.Io is "native" or "io_uring" or "threads")
        {
            proto.Add("aio", disk.Io);
        }
        AddCache(proto, disk);
    }

    private static void AddCache(QemuOpts o, Disk disk)
    {
        QemuOpts proto = o;
        switch (disk.Cache)
        {
            case "none":
            case "directsync":
                proto.Add("cache.direct", true).Add("cache.no-flush", false);
                break;
            case "unsafe":
                proto.Add("cache.direct", false).Add("cache.no-flush", true);
                break;
            case "writeback":
            case "writethrough":
                proto.Add("cache.direct", false).Add("cache.no-flush", false);
                break;
        }
    }

    private static void WriteThrottle(ArgvWriter w, Disk disk, ref string? topNode)
    {
        string group = disk.IoTuneGroup ?? "throttle-" + disk.Alias;
        var obj = new QemuOpts("throttle-group", "qom-type").Add("id", group);
        foreach (var (name, value) in disk.IoTune)
        {
            obj.Add("limits." + ThrottleKey(name), value);
        }
        w.Add("-object", obj);
        string node = "libvirt-" + disk.Alias + "-throttle";
        w.Add("-blockdev", new QemuOpts().Add("driver", "throttle").Add("node-name", node).Add("throttle-group", group).Add("file", topNode));
        topNode = node;
    }

    private static string ThrottleKey(string name) => name switch
    {
        "total_bytes_sec" => "bps-total",
        "read_bytes_sec" => "bps-read",
        "write_bytes_sec" => "bps-write",
        "total_iops_sec" => "iops-total",
        "read_iops_sec" => "iops-read",
        "write_iops_sec" => "iops-write",
        "total_bytes_sec_max" => "bps-total-max",
        "read_bytes_sec_max" => "bps-read-max",
        "write_bytes_sec_max" => "bps-write-max",
        "total_iops_sec_max" => "iops-total-max",
        "read_iops_sec_max" => "iops-read-max",
        "write_iops_sec_max" => "iops-write-max",
        "size_iops_sec" => "iops-size",
        "total_bytes_sec_max_length" => "bps-total-max-length",
        "read_bytes_sec_max_length" => "bps-read-max-length",
        "write_bytes_sec_max_length" => "bps-write-max-length",
        "total_iops_sec_max_length" => "iops-total-max-length",
        "read_iops_sec_max_length" => "iops-read-max-length",
        _ => "iops-write-max-length",
    };

    private static void WriteFrontend(ArgvWriter w, Disk disk, string? node, int? bootIndex)
    {
        DeviceAddress? a = disk.Address;
        QemuOpts o;
        switch (disk.Bus)
        {
            case "virtio":
                o = new QemuOpts(disk.IsCdrom ? throw VireoException.Invalid($"cdrom '{disk.TargetDev}' cannot be on virtio") : "virtio-blk-pci");
                o.Add("ioeventfd", disk.IoEventFd).Add("event_idx", disk.EventIdx);
                if (w.Pci.AddressOf(disk) is DeviceAddress pci)
                {
                    PciPlan.Place(o, pci, w.Pci);
                }
                if (disk.Queues is int q)
                {
                    o.Add("num-queues", q);
                }
                if (disk.IoThread is int t)
                {
                    o.Add("iothread", "iothread" + t.ToString(CultureInfo.InvariantCulture));
                }
                break;
            case "ide":
                o = new QemuOpts(disk.IsCdrom ? "ide-cd" : "ide-hd").Add("bus", "ide." + (a!.Bus ?? 0).ToString(CultureInfo.InvariantCulture)).Add("unit", a.Unit ?? 0);
                if ((a.Controller ?? 0) != 0)
                {
                    throw VireoException.Unsupported($"disk '{disk.TargetDev}' is on IDE controller {a.Controller}; only controller 0 exists");
                }
                break;
            case "sata":
                {
                    string bus = w.IsQ35 && (a!.Controller ?? 0) == 0 ? "ide" : "sata" + (a!.Controller ?? 0).ToString(CultureInfo.InvariantCulture);
                    o = new QemuOpts(disk.IsCdrom ? "ide-cd" : "ide-hd").Add("bus", bus + "." + (a.Unit ?? 0).ToString(CultureInfo.InvariantCulture));
                    break;
                }
            case "scsi":
                {
                    Controller? ctl = w.Def.Devices.Controllers.FirstOrDefault(c => c.Type == "scsi" && c.Index == (a!.Controller ?? 0));
                    o = new QemuOpts(disk.Device switch
                    {
                        "cdrom" => "scsi-cd",
                        "lun" => "scsi-block",
                        _ => "scsi-hd",
                    }).Add("bus", "scsi" + (a!.Controller ?? 0).ToString(CultureInfo.InvariantCulture) + ".0");
                    if (ctl?.Model is "lsilogic" or null)
                    {
                        o.Add("scsi-id", a.Unit ?? 0);
                    }
                    else
                    {
                        o.Add("channel", a.Bus ?? 0).Add("scsi-id", a.Target ?? 0).Add("lun", a.Unit ?? 0);
                    }
                    o.Add("device_id", disk.Serial ?? "drive-" + disk.Alias);
                    break;
                }
            case "usb":
                o = new QemuOpts("usb-storage").Add("bus", "usb.0").Add("port", w.Usb.PortOf(disk));
                break;
            case "fdc":
                o = new QemuOpts("floppy").Add("unit", a?.Unit ?? 0);
                break;
            default:
                throw VireoException.Unsupported($"disk bus '{disk.Bus}' is not supported");
        }
        if (node is not null)
        {
            o.Add("drive", node);
        }
        o.Add("id", disk.Alias);
        if (bootIndex is int bi)
        {
            o.Add("bootindex", bi);
        }
        if (disk.Shareable)
        {
            o.Add("share-rw", true);
        }
        if (disk.Serial is not null && disk.Bus != "scsi")
        {
            o.Add("serial", disk.Serial);
        }
        else if (disk.Serial is not null)
        {
            o.Add("serial", disk.Serial);
        }
        if (disk.Wwn is not null)
        {
            o.Add("wwn", disk.Wwn.StartsWith("0x", StringComparison.Ordinal) ? disk.Wwn : "0x" + disk.Wwn);
        }
        if (disk.RotationRate is int rate)
        {
            o.Add("rotation_rate", rate);
        }
        if (disk.Bus == "usb")
        {
            o.Add("removable", disk.Removable ?? false);
        }
        if (disk.Cache is not null && disk.Cache != "default")
        {
            o.Add("write-cache", disk.Cache is "writeback" or "none" or "unsafe");
        }
        w.Add("-device", o);
    }
}

/// <summary>Turns <c>&lt;os&gt;&lt;boot dev&gt;</c> or per-device <c>&lt;boot order&gt;</c> into QEMU bootindex values.</summary>
internal static class BootOrder
{
    public static Dictionary<object, int> Compute(DomainDefinition def)
    {
        var result = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
        DomainDevices d = def.Devices;
        bool perDevice = d.Disks.Any(x => x.BootOrder is not null) || d.Interfaces.Any(x => x.BootOrder is not null) || d.Hostdevs.Any(x => x.BootOrder is not null);
        if (perDevice)
        {
            foreach (Disk x in d.Disks.Where(x => x.BootOrder is not null))
            {
                result[x] = x.BootOrder!.Value;
            }
            foreach (NetInterface x in d.Interfaces.Where(x => x.BootOrder is not null))
            {
                result[x] = x.BootOrder!.Value;
            }
            foreach (HostdevDevice x in d.Hostdevs.Where(x => x.BootOrder is not null))
            {
                result[x] = x.BootOrder!.Value;
            }
            return result;
        }
        IReadOnlyList<string> devs = def.Os.BootDevices.Count > 0 || def.Os.Kernel is not null ? def.Os.BootDevices : ["hd"];
        int index = 1;
        foreach (string dev in devs)
        {
            object? target = dev switch
            {
                "hd" => d.Disks.FirstOrDefault(x => x.Device is "disk" or "lun"),
                "cdrom" => d.Disks.FirstOrDefault(x => x.Device == "cdrom"),
                "fd" => d.Disks.FirstOrDefault(x => x.Device == "floppy"),
                _ => d.Interfaces.FirstOrDefault(),
            };
            if (target is not null && !result.ContainsKey(target))
            {
                result[target] = index++;
            }
        }
        return result;
    }
}
