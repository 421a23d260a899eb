using System.Security;
using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>Device hotplug with virsh's names and flags: attach/detach/update-device, the disk and interface shortcuts, media and link state.</summary>
internal static class DomainDeviceCommands
{
    public const string Group = "Domain devices";

    private static readonly OptionSpec DomainOpt = new("domain", "domain name, id or uuid", "domain");
    private static readonly OptionSpec FileOpt = new("file", "XML file describing the device", "file");

    private static readonly OptionSpec[] ScopeOpts =
    [
        new("live", "affect the running domain"),
        new("config", "affect the persistent definition (next boot)"),
        new("persistent", "affect the running domain and, when it runs, the persistent definition too"),
        new("current", "affect the running domain if it runs, else the persistent definition (the default)"),
    ];

    private const string ScopeDetails =
        "--current (the default) changes the running domain when it runs, else its persistent definition; --live only the " +
        "running domain; --config only the persistent definition; --persistent both (the definition alone when the domain is off). " +
        "A live detach waits for the guest to release the device (DEVICE_DELETED) and fails after 10 s if it does not.";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("attach-device", Group, "attach a device (disk, interface, hostdev, controller) from an XML file",
            "attach-device <domain> <file> [--live] [--config] [--persistent] [--current]", [DomainOpt, FileOpt, .. ScopeOpts], AttachDevice)
        { Details = ScopeDetails },
        new("detach-device", Group, "detach a device described by an XML file",
            "detach-device <domain> <file> [--live] [--config] [--persistent] [--current]", [DomainOpt, FileOpt, .. ScopeOpts], DetachDevice)
        { Details = ScopeDetails },
        new("update-device", Group, "update a device: cdrom/floppy media, interface link state",
            "update-device <domain> <file> [--force] [--live] [--config] [--persistent] [--current]",
            [DomainOpt, FileOpt, new("force", "force the tray open when ejecting"), .. ScopeOpts], UpdateDevice) { Details = ScopeDetails },
        new("attach-disk", Group, "attach a disk",
            "attach-disk <domain> <source> <target> [--driver qemu] [--subdriver raw|qcow2] [--type disk|cdrom|floppy] [--targetbus virtio|sata|scsi|ide|usb] [--mode readonly|shareable] [--cache MODE] [--live|--config|--persistent|--current]",
            [DomainOpt, new("source", "source file or block device", "source"), new("target", "target device name (vdb, sda)", "target"),
             new("driver", "driver name (qemu)", "driver"), new("subdriver", "image format (raw, qcow2; detected when absent)", "format"),
             new("type", "device type: disk, cdrom, floppy", "type"), new("targetbus", "bus: virtio, sata, scsi, ide, usb, fdc", "bus"),
             new("mode", "readonly or shareable", "mode"), new("cache", "cache mode (none, writeback, writethrough, directsync, unsafe)", "cache"),
             new("serial", "disk serial", "serial"), new("print-xml", "print the disk XML instead of attaching it"), .. ScopeOpts], AttachDisk)
        { Details = ScopeDetails },
        new("detach-disk", Group, "detach a disk by target or source", "detach-disk <domain> <target> [--live|--config|--persistent|--current]",
            [DomainOpt, new("target", "target device (vdb) or source path", "target"), .. ScopeOpts], DetachDisk) { Details = ScopeDetails },
        new("attach-interface", Group, "attach a network interface",
            "attach-interface <domain> <type> <source> [--mac MAC] [--model MODEL] [--target DEV] [--live|--config|--persistent|--current]",
            [DomainOpt, new("type", "network, bridge, ethernet or user", "type"), new("source", "network or bridge name ('-' for ethernet/user)", "source"),
             new("mac", "MAC address", "mac"), new("model", "NIC model (virtio, e1000, e1000e, rtl8139)", "model"), new("target", "host TAP name", "target"),
             new("mtu", "MTU", "mtu"), new("print-xml", "print the interface XML instead of attaching it"), .. ScopeOpts], AttachInterface)
        { Details = ScopeDetails },
        new("detach-interface", Group, "detach a network interface", "detach-interface <domain> <type> [--mac MAC] [--live|--config|--persistent|--current]",
            [DomainOpt, new("type", "interface type", "type"), new("mac", "MAC address (needed when several match)", "mac"), .. ScopeOpts], DetachInterface)
        { Details = ScopeDetails },
        new("change-media", Group, "eject, insert or change a cdrom/floppy medium",
            "change-media <domain> <path> [<source>] --eject|--insert|--update [--force] [--live|--config|--current]",
            [DomainOpt, new("path", "target (hdc, sda) or current source path", "path"), new("source", "new medium", "source"),
             new("eject", "eject the medium"), new("insert", "insert a medium"), new("update", "replace the medium (eject if no source)"),
             new("force", "force the tray open"), .. ScopeOpts], ChangeMedia),
        new("domif-setlink", Group, "set an interface's link state", "domif-setlink <domain> <interface> up|down [--config]",
            [DomainOpt, new("interface", "host TAP name, MAC address or alias", "interface"), new("state", "up or down", "state"), new("config", "affect the persistent definition")],
            SetLink),
        new("domif-getlink", Group, "get an interface's link state", "domif-getlink <domain> <interface> [--config] [--json]",
            [DomainOpt, new("interface", "host TAP name, MAC address or alias", "interface"), new("config", "read the persistent definition"),
             new("json", "print JSON instead of text")], GetLink),
    ];

    private static DomainManager Domains => VireoEngine.Local.Domains;

    private static (string Domain, string Xml, string File) DomainAndFile(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string file = c.Args.Required("file", ref pos, "<file>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        try
        {
            if (new FileInfo(file).Length > SafeXml.MaxDocumentChars)
            {
                throw VireoException.Invalid($"file '{file}' is larger than the limit of {SafeXml.MaxDocumentChars} bytes");
            }

            return (domain, File.ReadAllText(file), file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw VireoException.Invalid($"failed to read file '{file}': no such file");
        }
    }

    private static async Task<int> AttachDevice(CommandContext c)
    {
        var (domain, xml, _) = DomainAndFile(c);
        await Domains.AttachDeviceAsync(domain, xml, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Device attached successfully");
    }

    private static async Task<int> DetachDevice(CommandContext c)
    {
        var (domain, xml, _) = DomainAndFile(c);
        await Domains.DetachDeviceAsync(domain, xml, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Device detached successfully");
    }

    private static async Task<int> UpdateDevice(CommandContext c)
    {
        var (domain, xml, _) = DomainAndFile(c);
        await Domains.UpdateDeviceAsync(domain, xml, ScopeOptions.Parse(c), c.Args.Has("force"), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Device updated successfully");
    }

    private static int Done(CommandContext c, string message)
    {
        c.Out.WriteLine(message);
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> AttachDisk(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string source = c.Args.Required("source", ref pos, "<source>");
        string target = c.Args.Required("target", ref pos, "<target>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string xml = DiskXml(c, source, target);
        if (c.Args.Has("print-xml"))
        {
            c.Out.WriteLine(xml);
            return 0;
        }

        await Domains.AttachDeviceAsync(domain, xml, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Disk attached successfully");
    }

    internal static string DiskXml(CommandContext c, string source, string target)
    {
        string device = c.Args.Value("type") ?? "disk";
        if (device is not ("disk" or "cdrom" or "floppy" or "lun"))
        {
            throw VireoException.Invalid($"--type must be disk, cdrom, floppy or lun, not '{device}'");
        }

        string bus = c.Args.Value("targetbus") ?? (target.StartsWith("vd", StringComparison.Ordinal) ? "virtio"
            : target.StartsWith("hd", StringComparison.Ordinal) ? "ide"
            : target.StartsWith("fd", StringComparison.Ordinal) ? "fdc"
            : target.StartsWith("sd", StringComparison.Ordinal) ? "scsi"
            : throw VireoException.Invalid($"cannot tell the bus of target '{target}'; give --targetbus"));
        bool block = source.StartsWith("/dev/", StringComparison.Ordinal);
        string format = c.Args.Value("subdriver") ?? DetectFormat(source);
        string? driverName = c.Args.Value("driver");
        if (driverName is not (null or "qemu"))
        {
            throw VireoException.Invalid($"--driver must be 'qemu', not '{driverName}'");
        }

        string mode = c.Args.Value("mode") ?? "";
        if (mode is not ("" or "readonly" or "shareable"))
        {
            throw VireoException.Invalid($"--mode must be readonly or shareable, not '{mode}'");
        }

        string cache = c.Args.Value("cache") is { } ch ? $" cache='{Esc(ch)}'" : "";
        string serial = c.Args.Value("serial") is { } sr ? $"<serial>{Esc(sr)}</serial>" : "";
        return $"<disk type='{(block ? "block" : "file")}' device='{device}'><driver name='qemu' type='{Esc(format)}'{cache}/>" +
            $"<source {(block ? "dev" : "file")}='{Esc(source)}'/><target dev='{Esc(target)}' bus='{Esc(bus)}'/>" +
            (mode == "readonly" || device == "cdrom" ? "<readonly/>" : "") + (mode == "shareable" ? "<shareable/>" : "") + serial + "</disk>";
    }

    private static string Esc(string s) => SecurityElement.Escape(s);

    /// <summary>qcow2 by its magic, else raw (a missing file is reported by the engine, naming it).</summary>
    private static string DetectFormat(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return f.Read(magic) == 4 && magic.SequenceEqual((ReadOnlySpan<byte>)[0x51, 0x46, 0x49, 0xfb]) ? "qcow2" : "raw";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "raw";
        }
    }

    private static async Task<int> DetachDisk(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string target = c.Args.Required("target", ref pos, "<target>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Domains.DetachMatchingAsync(domain, def =>
            def.Devices.Disks.FirstOrDefault(d => d.TargetDev == target || d.SourcePath == target)
                ?? throw DomainManager.NotThere(def.Name, $"disk with target '{target}'"),
            ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Disk detached successfully");
    }

    private static async Task<int> AttachInterface(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string type = c.Args.Required("type", ref pos, "<type>");
        string? source = c.Args.Optional("source", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string src = type switch
        {
            "network" => $"<source network='{Esc(source ?? throw VireoException.Invalid("attach-interface type network needs <source> (the network name)"))}'/>",
            "bridge" => $"<source bridge='{Esc(source ?? throw VireoException.Invalid("attach-interface type bridge needs <source> (the bridge name)"))}'/>",
            "ethernet" or "user" => "",
            _ => throw VireoException.Unsupported($"attach-interface: type '{type}' is not supported (network, bridge, ethernet, user)"),
        };
        string xml = $"<interface type='{type}'>" + src +
            (c.Args.Value("mac") is { } mac ? $"<mac address='{Esc(mac)}'/>" : "") +
            $"<model type='{Esc(c.Args.Value("model") ?? "virtio")}'/>" +
            (c.Args.Value("target") is { } t ? $"<target dev='{Esc(t)}'/>" : "") +
            (c.Args.Value("mtu") is { } mtu ? $"<mtu size='{Esc(mtu)}'/>" : "") + "</interface>";
        if (c.Args.Has("print-xml"))
        {
            c.Out.WriteLine(xml);
            return 0;
        }

        await Domains.AttachDeviceAsync(domain, xml, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Interface attached successfully");
    }

    private static async Task<int> DetachInterface(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string type = c.Args.Required("type", ref pos, "<type>");
        string? mac = c.Args.Value("mac");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Domains.DetachMatchingAsync(domain, def =>
        {
            var matches = def.Devices.Interfaces.Where(n => n.Type == type && (mac is null || string.Equals(n.Mac, mac, StringComparison.OrdinalIgnoreCase))).ToList();
            return matches.Count switch
            {
                0 => throw DomainManager.NotThere(def.Name, $"interface of type '{type}'" + (mac is null ? "" : $" with MAC '{mac}'")),
                1 => matches[0],
                _ => throw VireoException.Invalid($"domain '{def.Name}' has {matches.Count} interfaces of type '{type}'; give --mac to say which one"),
            };
        }, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, "Interface detached successfully");
    }

    private static async Task<int> ChangeMedia(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string path = c.Args.Required("path", ref pos, "<path>");
        string? source = c.Args.Optional("source", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        int modes = (c.Args.Has("eject") ? 1 : 0) + (c.Args.Has("insert") ? 1 : 0) + (c.Args.Has("update") ? 1 : 0);
        if (modes > 1)
        {
            throw VireoException.Invalid("--eject, --insert and --update are exclusive");
        }

        bool eject = c.Args.Has("eject");
        if (eject && source is not null)
        {
            throw VireoException.Invalid("--eject takes no <source>");
        }

        if (c.Args.Has("insert") && source is null)
        {
            throw VireoException.Invalid("--insert needs a <source>");
        }

        await Domains.ChangeMediaAsync(domain, path, eject ? null : source, c.Args.Has("force"), ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return Done(c, eject || source is null ? "Successfully ejected media." : c.Args.Has("insert") ? "Successfully inserted media." : "Successfully updated media.");
    }

    private static async Task<int> SetLink(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string iface = c.Args.Required("interface", ref pos, "<interface>");
        string state = c.Args.Required("state", ref pos, "up|down");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        if (state is not ("up" or "down"))
        {
            throw VireoException.Invalid($"link state must be 'up' or 'down', not '{state}'");
        }

        await Domains.SetLinkStateAsync(domain, iface, state == "up", c.Args.Has("config") ? ChangeScope.Config : ChangeScope.Current, CancellationToken.None).ConfigureAwait(false);
        return Done(c, $"Device updated successfully");
    }

    private static Task<int> GetLink(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string iface = c.Args.Required("interface", ref pos, "<interface>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var list = Domains.InterfaceList(domain, c.Args.Has("config"));
        var n = list.FirstOrDefault(x => x.Interface == iface || string.Equals(x.Mac, iface, StringComparison.OrdinalIgnoreCase) || x.Alias == iface)
            ?? throw VireoException.NotFound($"domain '{domain}' has no interface '{iface}'");
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("interface", iface);
                w.WriteString("state", n.LinkState);
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        c.Out.WriteLine($"{iface} {n.LinkState}");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }
}
