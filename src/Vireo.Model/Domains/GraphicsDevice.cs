using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>A <c>&lt;graphics type='vnc'&gt;</c> display: TCP port (or autoport) on a listen address, or a unix socket.</summary>
public sealed record GraphicsDevice
{
    public string Type { get; init; } = "vnc";
    /// <summary>The TCP port; -1 or null with <see cref="AutoPort"/> lets Vireo pick from 5900 up.</summary>
    public int? Port { get; init; }
    public bool? AutoPort { get; init; }
    public int? WebSocket { get; init; }
    public string? ListenAddress { get; init; }
    /// <summary><c>address</c>, <c>socket</c>, <c>none</c> or <c>network</c>.</summary>
    public string? ListenType { get; init; }
    public string? Socket { get; init; }
    public string? Password { get; init; }
    public string? Keymap { get; init; }
    public string? SharePolicy { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static GraphicsDevice Parse(XmlCursor c)
    {
        string type = c.OneOf("type", "vnc") ?? throw VireoException.Invalid("<graphics> is missing 'type'");
        string? listenAddress = c.Attr("listen");
        string? listenType = null;
        string? socket = c.Attr("socket");
        foreach (XmlCursor l in c.Children("listen"))
        {
            listenType ??= l.OneOf("type", "address", "socket", "none", "network");
            if (listenType == "address")
            {
                listenAddress = l.Attr("address") ?? listenAddress;
            }
            else if (listenType == "socket")
            {
                socket = l.Attr("socket") ?? socket;
            }
            else if (listenType == "network")
            {
                throw VireoException.Unsupported("unsupported value 'network' for <graphics/listen type>");
            }
            l.Leftovers();
        }
        int? port = c.IntAttr("port");
        if (port is not (null or -1) && port is < 5900 or > 65535)
        {
            throw VireoException.Invalid($"<graphics port='{port}'> must be 5900-65535 (or -1 for automatic)");
        }
        return new GraphicsDevice
        {
            Type = type,
            Port = port,
            AutoPort = c.YesNo("autoport"),
            WebSocket = c.IntAttr("websocket"),
            ListenAddress = listenAddress,
            ListenType = listenType ?? (socket is not null ? "socket" : listenAddress is not null ? "address" : null),
            Socket = socket,
            Password = c.Attr("passwd"),
            Keymap = c.Attr("keymap"),
            SharePolicy = c.OneOf("sharePolicy", "allow-exclusive", "force-shared", "ignore"),
            Extra = c.Leftovers(),
        };
    }

    internal XElement ToXml()
    {
        var e = new XElement("graphics", new XAttribute("type", Type));
        if (ListenType != "socket")
        {
            e.Attr("port", Port).YesNo("autoport", AutoPort);
        }
        e.Attr("websocket", WebSocket).Attr("listen", ListenType == "address" ? ListenAddress : null)
            .Attr("passwd", Password).Attr("keymap", Keymap).Attr("sharePolicy", SharePolicy);
        if (ListenType is not null)
        {
            e.Add(new XElement("listen", new XAttribute("type", ListenType))
                .Attr("address", ListenType == "address" ? ListenAddress : null).Attr("socket", ListenType == "socket" ? Socket : null));
        }
        return e.With(Extra);
    }
}

/// <summary>A <c>&lt;video&gt;</c> adapter: vga, cirrus, virtio, bochs, qxl, ramfb or none.</summary>
public sealed record VideoDevice
{
    public string Model { get; init; } = "vga";
    public long? VramKiB { get; init; }
    public long? RamKiB { get; init; }
    public long? VgamemKiB { get; init; }
    public int? Heads { get; init; }
    public bool? Primary { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public UnmodeledXml ModelExtra { get; init; } = UnmodeledXml.Empty;
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static VideoDevice Parse(XmlCursor c)
    {
        XmlCursor? m = c.Child("model");
        var v = new VideoDevice
        {
            Model = m?.OneOf("type", "vga", "cirrus", "virtio", "bochs", "qxl", "ramfb", "none") ?? "vga",
            VramKiB = m?.LongAttr("vram"),
            RamKiB = m?.LongAttr("ram"),
            VgamemKiB = m?.LongAttr("vgamem"),
            Heads = m?.IntAttr("heads"),
            Primary = m?.YesNo("primary"),
            Address = DeviceAddress.Parse(c),
        };
        return v with { ModelExtra = m?.Leftovers() ?? UnmodeledXml.Empty, Extra = c.Leftovers() };
    }

    internal XElement ToXml() =>
        new XElement("video",
            new XElement("model", new XAttribute("type", Model)).Attr("ram", RamKiB).Attr("vram", VramKiB).Attr("vgamem", VgamemKiB)
                .Attr("heads", Heads).YesNo("primary", Primary).With(ModelExtra))
            .Child(Address?.ToXml()).With(Extra);
}
