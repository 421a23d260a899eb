using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// A character device: <c>&lt;serial&gt;</c>, <c>&lt;console&gt;</c>, <c>&lt;parallel&gt;</c> or <c>&lt;channel&gt;</c>.
/// The host side (pty, file, unix, tcp, udp, null, dev, pipe) becomes a QEMU chardev; the target says what the guest sees.
/// </summary>
public sealed record CharDevice
{
    /// <summary><c>serial</c>, <c>console</c>, <c>parallel</c> or <c>channel</c>: the element name.</summary>
    public required string Kind { get; init; }
    /// <summary><c>pty</c>, <c>file</c>, <c>unix</c>, <c>tcp</c>, <c>udp</c>, <c>null</c>, <c>dev</c>, <c>pipe</c>, <c>stdio</c>, <c>vc</c>.</summary>
    public string Type { get; init; } = "pty";
    /// <summary>File, unix socket, device or pipe path.</summary>
    public string? SourcePath { get; init; }
    /// <summary><c>bind</c> (QEMU listens) or <c>connect</c>.</summary>
    public string? SourceMode { get; init; }
    public string? SourceHost { get; init; }
    public string? SourceService { get; init; }
    /// <summary>For udp: the local end.</summary>
    public string? BindHost { get; init; }
    public string? BindService { get; init; }
    public bool? Append { get; init; }
    public int? ReconnectSeconds { get; init; }
    /// <summary><c>raw</c> or <c>telnet</c> for tcp.</summary>
    public string? Protocol { get; init; }
    public bool? Tls { get; init; }
    /// <summary><c>isa-serial</c>, <c>usb-serial</c>, <c>pci-serial</c>; console: <c>serial</c>, <c>virtio</c>; channel: <c>virtio</c>, <c>guestfwd</c>.</summary>
    public string? TargetType { get; init; }
    public int? TargetPort { get; init; }
    /// <summary>The virtio-serial port name of a channel (<c>org.qemu.guest_agent.0</c>).</summary>
    public string? TargetName { get; init; }
    public string? TargetModel { get; init; }
    /// <summary>guestfwd channel: the guest-visible address and port.</summary>
    public string? TargetAddress { get; init; }
    public string? LogFile { get; init; }
    public bool? LogAppend { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public string? UserAlias { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    /// <summary>A console that is just another view of serial port N (libvirt's compat console).</summary>
    public bool IsSerialConsole => Kind == "console" && (TargetType is null or "serial");

    internal static CharDevice Parse(XmlCursor c, string kind)
    {
        string type = c.OneOf("type", "pty", "file", "unix", "tcp", "udp", "null", "dev", "pipe", "stdio", "vc") ?? "pty";
        string? path = null, mode = null, host = null, service = null, bindHost = null, bindService = null;
        bool? append = null;
        int? reconnect = null;
        foreach (XmlCursor s in c.Children("source"))
        {
            string? m = s.OneOf("mode", "bind", "connect");
            if (type == "udp" && m == "bind")
            {
                bindHost = s.Attr("host");
                bindService = s.Attr("service");
            }
            else
            {
                mode ??= m;
                path ??= s.Attr("path");
                host ??= s.Attr("host");
                service ??= s.Attr("service");
                append ??= s.YesNo("append");
                XmlCursor? r = s.Child("reconnect");
                if (r?.YesNo("enabled") == true)
                {
                    reconnect = r.IntAttr("timeout");
                }
                r?.Leftovers();
            }
            s.Leftovers();
        }
        if (type is "file" or "unix" or "dev" or "pipe" && string.IsNullOrEmpty(path) && !(type == "unix" && kind == "channel"))
        {
            throw VireoException.Invalid($"<{kind} type='{type}'> needs <source path='...'/>");
        }
        if (type is "tcp" && service is null)
        {
            throw VireoException.Invalid($"<{kind} type='tcp'> needs <source service='PORT'/>");
        }
        XmlCursor? protocol = c.Child("protocol");
        XmlCursor? target = c.Child("target");
        XmlCursor? model = target?.Child("model");
        XmlCursor? log = c.Child("log");
        XmlCursor? alias = c.Child("alias");
        string? targetType = target?.Attr("type");
        if (kind == "channel")
        {
            if (targetType is not ("virtio" or "guestfwd"))
            {
                throw VireoException.Unsupported($"unsupported value '{targetType}' for <channel/target type>; Vireo supports virtio and guestfwd");
            }
        }
        else if (kind == "console" && targetType is not (null or "serial" or "virtio"))
        {
            throw VireoException.Unsupported($"unsupported value '{targetType}' for <console/target type>; Vireo supports serial and virtio");
        }
        else if (kind == "serial" && targetType is not (null or "isa-serial" or "usb-serial" or "pci-serial"))
        {
            throw VireoException.Unsupported($"unsupported value '{targetType}' for <serial/target type>");
        }
        var dev = new CharDevice
        {
            Kind = kind,
            Type = type,
            SourcePath = path,
            SourceMode = mode,
            SourceHost = host,
            SourceService = service,
            BindHost = bindHost,
            BindService = bindService,
            Append = append,
            ReconnectSeconds = reconnect,
            Protocol = protocol?.OneOf("type", "raw", "telnet", "telnets", "tls"),
            Tls = c.YesNo("tls"),
            TargetType = targetType,
            TargetPort = kind == "channel" && targetType == "guestfwd" ? null : target?.IntAttr("port"),
            TargetName = target?.Attr("name"),
            TargetModel = model?.Attr("name"),
            TargetAddress = target?.Attr("address"),
            LogFile = log?.Attr("file"),
            LogAppend = log?.YesNo("append"),
            Address = DeviceAddress.Parse(c),
            UserAlias = alias?.Attr("name") is string a && a.StartsWith("ua-", StringComparison.Ordinal) ? a : null,
        };
        if (kind == "channel" && targetType == "guestfwd")
        {
            dev = dev with { TargetPort = target?.IntAttr("port") };
        }
        protocol?.Leftovers();
        model?.Leftovers();
        target?.Leftovers();
        log?.Leftovers();
        alias?.Leftovers();
        return dev with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement(Kind, new XAttribute("type", Type));
        if (Type == "udp" && (BindHost is not null || BindService is not null))
        {
            e.Add(new XElement("source", new XAttribute("mode", "bind")).Attr("host", BindHost).Attr("service", BindService));
        }
        var source = new XElement("source").Attr("mode", SourceMode).Attr("host", SourceHost).Attr("service", SourceService)
            .Attr("path", SourcePath).OnOff("append", Append);
        if (ReconnectSeconds is int r)
        {
            source.Add(new XElement("reconnect", new XAttribute("enabled", "yes")).Attr("timeout", r));
        }
        if (source.HasAttributes || source.HasElements)
        {
            e.Add(source);
        }
        if (Protocol is not null)
        {
            e.Add(new XElement("protocol", new XAttribute("type", Protocol)));
        }
        if (LogFile is not null)
        {
            e.Add(new XElement("log", new XAttribute("file", LogFile)).OnOff("append", LogAppend));
        }
        var target = new XElement("target").Attr("type", TargetType).Attr("address", TargetAddress).Attr("port", TargetPort).Attr("name", TargetName);
        if (TargetModel is not null)
        {
            target.Add(new XElement("model", new XAttribute("name", TargetModel)));
        }
        if (target.HasAttributes || target.HasElements)
        {
            e.Add(target);
        }
        if (UserAlias is not null)
        {
            e.Add(new XElement("alias", new XAttribute("name", UserAlias)));
        }
        e.Child(Address?.ToXml());
        return e.With(Extra);
    }
}
