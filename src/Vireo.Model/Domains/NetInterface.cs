using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// An <c>&lt;interface&gt;</c>: how the guest NIC reaches the world (user-mode, a virtual network, a bridge, a
/// pre-made TAP, macvtap, vhost-user, a VF) and what the guest sees (model, MAC, MTU, queues).
/// </summary>
public sealed record NetInterface
{
    /// <summary><c>user</c>, <c>network</c>, <c>bridge</c>, <c>ethernet</c>, <c>direct</c>, <c>vhostuser</c> or <c>hostdev</c>.</summary>
    public string Type { get; init; } = "user";
    public string? Mac { get; init; }
    /// <summary><c>virtio</c>, <c>e1000</c>, <c>e1000e</c>, <c>rtl8139</c>...; null means libvirt's default (rtl8139 on pc).</summary>
    public string? Model { get; init; }
    public string? SourceNetwork { get; init; }
    public string? SourcePortGroup { get; init; }
    public string? SourceBridge { get; init; }
    /// <summary>The host device for <c>direct</c> (macvtap) interfaces.</summary>
    public string? SourceDev { get; init; }
    /// <summary>macvtap mode (vepa, bridge, private, passthrough) or vhost-user role (client, server).</summary>
    public string? SourceMode { get; init; }
    /// <summary>The vhost-user socket.</summary>
    public string? SourcePath { get; init; }
    /// <summary>The VF for <c>hostdev</c> interfaces.</summary>
    public DeviceAddress? SourceAddress { get; init; }
    public UnmodeledXml SourceExtra { get; init; } = UnmodeledXml.Empty;
    public string? TargetDev { get; init; }
    public bool? TargetManaged { get; init; }
    public int? Mtu { get; init; }
    public int? BootOrder { get; init; }
    /// <summary><c>vhost</c> or <c>qemu</c>.</summary>
    public string? DriverName { get; init; }
    public int? Queues { get; init; }
    public int? RxQueueSize { get; init; }
    public int? TxQueueSize { get; init; }
    public UnmodeledXml DriverExtra { get; init; } = UnmodeledXml.Empty;
    /// <summary><c>&lt;tune&gt;&lt;sndbuf&gt;</c>: the TAP send buffer in bytes.</summary>
    public long? SndBuf { get; init; }
    public IReadOnlyList<VlanTag> Vlans { get; init; } = [];
    public bool VlanTrunk { get; init; }
    public VirtualPort? VirtualPort { get; init; }
    public Bandwidth? Bandwidth { get; init; }
    /// <summary><c>up</c> or <c>down</c>.</summary>
    public string? LinkState { get; init; }
    public bool? Managed { get; init; }
    public DeviceAddress? Address { get; init; }
    public string Alias { get; init; } = "";
    public string? UserAlias { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    /// <summary>True when QEMU reaches the network through a TAP file descriptor the engine prepares.</summary>
    public bool UsesTap => Type is "network" or "bridge" or "ethernet";

    /// <summary>
    /// A live definition keeps each NIC's QEMU id (<c>net3</c>) in <c>&lt;alias&gt;</c>: ids come from positions, and
    /// after a NIC is hot-unplugged the positions of the later ones no longer match the ids QEMU knows them by.
    /// </summary>
    private static bool IsLiveAlias(string a) =>
        a.Length > 3 && a.StartsWith("net", StringComparison.Ordinal) && a.AsSpan(3).IndexOfAnyExceptInRange('0', '9') < 0;

    internal static NetInterface Parse(XmlCursor c)
    {
        string type = c.OneOf("type", "user", "network", "bridge", "ethernet", "direct", "vhostuser", "hostdev") ?? "user";
        XmlCursor? mac = c.Child("mac");
        string? macText = mac?.Require("address");
        if (macText is not null && !IsMac(macText))
        {
            throw VireoException.Invalid($"<devices/interface/mac address='{macText}'> is not a MAC address like 52:54:00:12:34:56");
        }
        XmlCursor? model = c.Child("model");
        XmlCursor? source = c.Child("source");
        XmlCursor? target = c.Child("target");
        XmlCursor? mtu = c.Child("mtu");
        XmlCursor? boot = c.Child("boot");
        XmlCursor? driver = c.Child("driver");
        XmlCursor? link = c.Child("link");
        XmlCursor? alias = c.Child("alias");
        XmlCursor? backend = c.Child("backend");
        if (backend is not null && backend.Attr("type") is string bt && bt != "default")
        {
            throw VireoException.Unsupported($"unsupported value '{bt}' for <devices/interface/backend type>: Vireo does not run passt");
        }
        string? modelType = model?.Require("type");
        if (modelType is not null && modelType is not ("virtio" or "e1000" or "e1000e" or "rtl8139" or "virtio-transitional" or "virtio-non-transitional" or "vmxnet3" or "ne2k_pci" or "pcnet" or "igb"))
        {
            throw VireoException.Unsupported($"unsupported value '{modelType}' for <devices/interface/model type>");
        }
        var vlans = new List<VlanTag>();
        bool trunk = false;
        XmlCursor? vlan = c.Child("vlan");
        if (vlan is not null)
        {
            trunk = vlan.YesNo("trunk") ?? false;
            foreach (XmlCursor tag in vlan.Children("tag"))
            {
                int id = tag.IntAttr("id") ?? throw VireoException.Invalid("<interface/vlan/tag> is missing 'id'");
                if (id is < 0 or > 4095)
                {
                    throw VireoException.Invalid($"<interface/vlan/tag id='{id}'> must be 0-4095");
                }
                vlans.Add(new VlanTag(id, tag.OneOf("nativeMode", "tagged", "untagged")));
                tag.Leftovers();
            }
            vlan.Leftovers();
        }
        XmlCursor? tune = c.Child("tune");
        string? sndbuf = tune?.ChildText("sndbuf");
        tune?.Leftovers();
        var iface = new NetInterface
        {
            SndBuf = tune?.ParseLong(sndbuf, "sndbuf"),
            Type = type,
            Mac = macText?.ToLowerInvariant(),
            Model = modelType,
            SourceNetwork = type == "network" ? source?.Require("network") : null,
            SourcePortGroup = type == "network" ? source?.Attr("portgroup") : null,
            SourceBridge = type == "bridge" ? source?.Require("bridge") : null,
            SourceDev = type == "direct" ? source?.Require("dev") : null,
            SourceMode = type switch
            {
                "direct" => source?.OneOf("mode", "vepa", "bridge", "private", "passthrough") ?? "vepa",
                "vhostuser" => source?.OneOf("mode", "client", "server") ?? "client",
                _ => null,
            },
            SourcePath = type == "vhostuser" ? OneUnixSource(source) : null,
            SourceAddress = type == "hostdev" ? DeviceAddress.Parse(source, "pci") : null,
            TargetDev = target?.Attr("dev"),
            TargetManaged = target?.YesNo("managed"),
            Mtu = mtu?.IntAttr("size"),
            BootOrder = boot?.IntAttr("order"),
            DriverName = driver?.OneOf("name", "vhost", "qemu"),
            Queues = driver?.IntAttr("queues"),
            RxQueueSize = driver?.IntAttr("rx_queue_size"),
            TxQueueSize = driver?.IntAttr("tx_queue_size"),
            Vlans = vlans,
            VlanTrunk = trunk,
            VirtualPort = VirtualPort.Parse(c.Child("virtualport")),
            Bandwidth = Bandwidth.Parse(c.Child("bandwidth")),
            LinkState = link?.OneOf("state", "up", "down"),
            Managed = c.YesNo("managed"),
            Address = DeviceAddress.Parse(c),
            UserAlias = alias?.Attr("name") is string a && (a.StartsWith("ua-", StringComparison.Ordinal) || IsLiveAlias(a)) ? a : null,
        };
        if (type is "direct" or "hostdev" or "vhostuser" && source is null)
        {
            throw VireoException.Invalid($"<interface type='{type}'> is missing <source>");
        }
        if (type == "hostdev" && iface.SourceAddress is null)
        {
            throw VireoException.Invalid("<interface type='hostdev'> needs <source><address type='pci' .../></source>");
        }
        if (iface.Mtu is < 68 or > 65535)
        {
            throw VireoException.Invalid($"<interface/mtu size='{iface.Mtu}'> must be 68-65535");
        }
        if (iface.Queues is < 1 or > 256)
        {
            throw VireoException.Invalid($"<interface/driver queues='{iface.Queues}'> must be 1-256");
        }
        mac?.Leftovers();
        model?.Leftovers();
        mtu?.Leftovers();
        boot?.Leftovers();
        link?.Leftovers();
        alias?.Leftovers();
        backend?.Leftovers();
        return iface with
        {
            SourceExtra = source?.Leftovers() ?? UnmodeledXml.Empty,
            DriverExtra = driver?.Leftovers() ?? UnmodeledXml.Empty,
            Extra = (target?.Leftovers(), c.Leftovers()).Item2,
        };
    }

    private static string? OneUnixSource(XmlCursor? source)
    {
        if (source is null)
        {
            return null;
        }
        string? type = source.Attr("type");
        if (type is not (null or "unix"))
        {
            throw VireoException.Unsupported($"unsupported value '{type}' for <interface type='vhostuser'><source type>; only unix sockets");
        }
        return source.Require("path");
    }

    internal static bool IsMac(string s)
    {
        if (s.Length != 17)
        {
            return false;
        }
        for (int i = 0; i < 17; i++)
        {
            char ch = s[i];
            bool ok = i % 3 == 2 ? ch == ':' : char.IsAsciiHexDigit(ch);
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }

    internal XElement ToXml()
    {
        var e = new XElement("interface", new XAttribute("type", Type)).YesNo("managed", Managed);
        if (Mac is not null)
        {
            e.Add(new XElement("mac", new XAttribute("address", Mac)));
        }
        var source = new XElement("source");
        switch (Type)
        {
            case "network":
                source.Attr("network", SourceNetwork).Attr("portgroup", SourcePortGroup);
                break;
            case "bridge":
                source.Attr("bridge", SourceBridge);
                break;
            case "direct":
                source.Attr("dev", SourceDev).Attr("mode", SourceMode);
                break;
            case "vhostuser":
                source.Attr("type", "unix").Attr("path", SourcePath).Attr("mode", SourceMode);
                break;
            case "hostdev":
                source.Child(SourceAddress?.ToXml());
                break;
        }
        source.With(SourceExtra);
        if (source.HasAttributes || source.HasElements)
        {
            e.Add(source);
        }
        if (Vlans.Count > 0)
        {
            var vlan = new XElement("vlan");
            if (VlanTrunk)
            {
                vlan.Add(new XAttribute("trunk", "yes"));
            }
            foreach (VlanTag t in Vlans)
            {
                vlan.Add(new XElement("tag").Attr("id", t.Id).Attr("nativeMode", t.NativeMode));
            }
            e.Add(vlan);
        }
        e.Child(VirtualPort?.ToXml());
        e.Child(Bandwidth?.ToXml());
        if (TargetDev is not null || TargetManaged is not null)
        {
            e.Add(new XElement("target").Attr("dev", TargetDev).YesNo("managed", TargetManaged));
        }
        if (Model is not null)
        {
            e.Add(new XElement("model", new XAttribute("type", Model)));
        }
        if (DriverName is not null || Queues is not null || RxQueueSize is not null || TxQueueSize is not null || !DriverExtra.IsEmpty)
        {
            e.Add(new XElement("driver").Attr("name", DriverName).Attr("queues", Queues).Attr("rx_queue_size", RxQueueSize)
                .Attr("tx_queue_size", TxQueueSize).With(DriverExtra));
        }
        if (SndBuf is long sndbuf)
        {
            e.Add(new XElement("tune", new XElement("sndbuf", XmlOut.Text(sndbuf))));
        }
        if (LinkState is not null)
        {
            e.Add(new XElement("link", new XAttribute("state", LinkState)));
        }
        if (Mtu is int mtu)
        {
            e.Add(new XElement("mtu").Attr("size", mtu));
        }
        if (BootOrder is int order)
        {
            e.Add(new XElement("boot").Attr("order", order));
        }
        if (UserAlias is not null)
        {
            e.Add(new XElement("alias", new XAttribute("name", UserAlias)));
        }
        e.Child(Address?.ToXml());
        return e.With(Extra);
    }
}

/// <summary>One <c>&lt;vlan&gt;&lt;tag id&gt;</c>.</summary>
public sealed record VlanTag(int Id, string? NativeMode);

/// <summary><c>&lt;virtualport type&gt;</c> (openvswitch, 802.1Qbh, 802.1Qbg, midonet) with its parameters.</summary>
public sealed record VirtualPort
{
    public string? Type { get; init; }
    public string? InterfaceId { get; init; }
    public string? ProfileId { get; init; }
    public UnmodeledXml ParametersExtra { get; init; } = UnmodeledXml.Empty;
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static VirtualPort? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        XmlCursor? p = c.Child("parameters");
        var v = new VirtualPort
        {
            Type = c.OneOf("type", "openvswitch", "802.1Qbg", "802.1Qbh", "midonet"),
            InterfaceId = p?.Attr("interfaceid"),
            ProfileId = p?.Attr("profileid"),
        };
        return v with { ParametersExtra = p?.Leftovers() ?? UnmodeledXml.Empty, Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("virtualport").Attr("type", Type);
        var p = new XElement("parameters").Attr("interfaceid", InterfaceId).Attr("profileid", ProfileId).With(ParametersExtra);
        if (p.HasAttributes)
        {
            e.Add(p);
        }
        return e.With(Extra);
    }
}

/// <summary>QoS: <c>&lt;bandwidth&gt;&lt;inbound/outbound average peak burst floor&gt;</c> in KiB/s and KiB.</summary>
public sealed record Bandwidth
{
    public BandwidthLimit? Inbound { get; init; }
    public BandwidthLimit? Outbound { get; init; }

    internal static Bandwidth? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        var b = new Bandwidth { Inbound = BandwidthLimit.Parse(c.Child("inbound")), Outbound = BandwidthLimit.Parse(c.Child("outbound")) };
        c.Leftovers();
        return b;
    }

    internal XElement ToXml() => new XElement("bandwidth").Child(Inbound?.ToXml("inbound")).Child(Outbound?.ToXml("outbound"));
}

/// <summary>One direction of <see cref="Bandwidth"/>.</summary>
public sealed record BandwidthLimit(long? Average, long? Peak, long? Burst, long? Floor)
{
    internal static BandwidthLimit? Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return null;
        }
        var l = new BandwidthLimit(c.LongAttr("average"), c.LongAttr("peak"), c.LongAttr("burst"), c.LongAttr("floor"));
        c.Leftovers();
        return l;
    }

    internal XElement ToXml(string name) =>
        new XElement(name).Attr("average", Average).Attr("peak", Peak).Attr("burst", Burst).Attr("floor", Floor);
}
