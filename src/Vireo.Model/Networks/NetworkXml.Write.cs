using System.Globalization;
using System.Net;
using System.Text;

namespace Vireo.Model.Networks;

public static partial class NetworkXml
{
    /// <summary>Formats a definition as libvirt does: element order, single quotes, two-space indent.</summary>
    public static string ToXml(NetworkDefinition def)
    {
        var w = new XmlText();
        w.Open("network", ("ipv6", def.Ipv6NoGateway ? "yes" : null), ("trustGuestRxFilters", YesNo(def.TrustGuestRxFilters)));
        w.TextElement("name", def.Name);
        w.TextElement("uuid", def.Uuid.ToString());
        WriteForward(w, def.Forward);
        if (def.HasManagedBridge || def.Bridge?.Name is not null || def.Bridge?.MacTableManager is not null)
        {
            var b = def.Bridge ?? new NetworkBridge();
            bool stp = def.HasManagedBridge;
            w.Empty("bridge", ("name", b.Name), ("zone", b.Zone), ("macTableManager", b.MacTableManager),
                ("stp", stp ? (b.Stp ? "on" : "off") : null), ("delay", stp ? Num(b.Delay) : null));
        }

        if (def.Mtu is int mtu)
        {
            w.Empty("mtu", ("size", Num(mtu)));
        }

        if (def.Mac is not null)
        {
            w.Empty("mac", ("address", def.Mac));
        }

        if (def.Domain is not null)
        {
            w.Empty("domain", ("name", def.Domain.Name), ("localOnly", YesNo(def.Domain.LocalOnly)));
        }

        WriteDns(w, def.Dns);
        WriteVlan(w, def.Vlan);
        WriteBandwidth(w, def.Bandwidth);
        foreach (var ip in def.Ips)
        {
            WriteIp(w, ip);
        }

        WriteVirtualPort(w, def.VirtualPort);
        foreach (var pg in def.PortGroups)
        {
            bool children = pg.Vlan is not null || pg.VirtualPort is not null || pg.Bandwidth is not null;
            var attrs = new (string, string?)[] { ("name", pg.Name), ("default", pg.IsDefault ? "yes" : null), ("trustGuestRxFilters", YesNo(pg.TrustGuestRxFilters)) };
            if (!children)
            {
                w.Empty("portgroup", attrs);
                continue;
            }

            w.Open("portgroup", attrs);
            WriteVlan(w, pg.Vlan);
            WriteVirtualPort(w, pg.VirtualPort);
            WriteBandwidth(w, pg.Bandwidth);
            w.Close("portgroup");
        }

        w.Close("network");
        return w.ToString();
    }

    private static void WriteForward(XmlText w, NetworkForward f)
    {
        if (f.Mode == ForwardMode.None)
        {
            return;
        }

        var attrs = new (string, string?)[]
        {
            ("dev", f.Dev),
            ("mode", f.Mode.ToString().ToLowerInvariant()),
            ("managed", f.Mode == ForwardMode.Hostdev ? (f.Managed == true ? "yes" : "no") : null),
        };
        var nat = f.Mode == ForwardMode.Nat ? f.Nat : null;
        bool natChildren = nat is not null && (nat.AddressStart is not null || nat.PortStart != 0 || nat.PortEnd != 0 || nat.Ipv6);
        if (f.Interfaces.Count == 0 && f.PhysicalFunctions.Count == 0 && !natChildren)
        {
            w.Empty("forward", attrs);
            return;
        }

        w.Open("forward", attrs);
        if (natChildren)
        {
            w.Open("nat", ("ipv6", nat!.Ipv6 ? "yes" : null));
            if (nat.AddressStart is not null)
            {
                w.Empty("address", ("start", nat.AddressStart.ToString()), ("end", nat.AddressEnd?.ToString()));
            }

            if (nat.PortStart != 0 || nat.PortEnd != 0)
            {
                w.Empty("port", ("start", Num(nat.PortStart)), ("end", nat.PortEnd != 0 ? Num(nat.PortEnd) : null));
            }

            w.Close("nat");
        }

        foreach (string pf in f.PhysicalFunctions.Take(1))
        {
            w.Empty("pf", ("dev", pf));
        }

        foreach (string dev in f.Interfaces)
        {
            w.Empty("interface", ("dev", dev));
        }

        w.Close("forward");
    }

    private static void WriteDns(XmlText w, NetworkDns? dns)
    {
        if (dns is null || (dns.Enable is null && dns.ForwardPlainNames is null && dns.Forwarders.Count == 0
            && dns.Hosts.Count == 0 && dns.Srvs.Count == 0 && dns.Txts.Count == 0))
        {
            return;
        }

        var attrs = new (string, string?)[] { ("enable", YesNo(dns.Enable)), ("forwardPlainNames", YesNo(dns.ForwardPlainNames)) };
        if (dns.Forwarders.Count == 0 && dns.Hosts.Count == 0 && dns.Srvs.Count == 0 && dns.Txts.Count == 0)
        {
            w.Empty("dns", attrs);
            return;
        }

        w.Open("dns", attrs);
        foreach (var f in dns.Forwarders)
        {
            w.Empty("forwarder", ("domain", f.Domain), ("addr", f.Address?.ToString()));
        }

        foreach (var t in dns.Txts)
        {
            w.Empty("txt", ("name", t.Name), ("value", t.Value));
        }

        foreach (var s in dns.Srvs)
        {
            w.Empty("srv", ("service", s.Service), ("protocol", s.Protocol), ("domain", s.Domain), ("target", s.Target),
                ("port", Num(s.Port)), ("priority", Num(s.Priority)), ("weight", Num(s.Weight)));
        }

        foreach (var h in dns.Hosts)
        {
            w.Open("host", ("ip", h.Ip.ToString()));
            foreach (string n in h.Hostnames)
            {
                w.TextElement("hostname", n);
            }

            w.Close("host");
        }

        w.Close("dns");
    }

    private static void WriteVlan(XmlText w, NetworkVlan? vlan)
    {
        if (vlan is null)
        {
            return;
        }

        w.Open("vlan", ("trunk", vlan.Trunk == true ? "yes" : null));
        foreach (var t in vlan.Tags)
        {
            w.Empty("tag", ("id", Num(t.Id)), ("nativeMode", t.NativeMode));
        }

        w.Close("vlan");
    }

    private static void WriteBandwidth(XmlText w, Bandwidth? bw)
    {
        if (bw is null || (bw.Inbound is null && bw.Outbound is null))
        {
            return;
        }

        w.Open("bandwidth");
        foreach (var (name, r) in new[] { ("inbound", bw.Inbound), ("outbound", bw.Outbound) })
        {
            if (r is not null)
            {
                w.Empty(name, ("average", Num(r.Average)), ("peak", Num(r.Peak)), ("floor", Num(r.Floor)), ("burst", Num(r.Burst)));
            }
        }

        w.Close("bandwidth");
    }

    private static void WriteIp(XmlText w, NetworkIp ip)
    {
        // libvirt always writes <ip> open and closed, even without children.
        w.Open("ip", ("family", ip.Family), ("address", ip.Address.ToString()), ("netmask", ip.Netmask?.ToString()),
            ("prefix", ip.Prefix is > 0 ? Num(ip.Prefix) : null), ("localPtr", ip.LocalPtr));
        if (ip.TftpRoot is not null)
        {
            w.Empty("tftp", ("root", ip.TftpRoot));
        }

        if (ip.HasDhcp)
        {
            w.Open("dhcp");
            foreach (var r in ip.Ranges)
            {
                WithLease(w, "range", r.Lease, ("start", r.Start.ToString()), ("end", r.End.ToString()));
            }

            foreach (var h in ip.Hosts)
            {
                WithLease(w, "host", h.Lease, ("mac", h.Mac), ("id", h.Id), ("name", h.Name), ("ip", h.Ip?.ToString()));
            }

            if (ip.BootFile is not null)
            {
                w.Empty("bootp", ("file", ip.BootFile), ("server", ip.BootServer?.ToString()));
            }

            w.Close("dhcp");
        }

        w.Close("ip");
    }

    private static void WithLease(XmlText w, string name, DhcpLease? lease, params (string, string?)[] attrs)
    {
        if (lease is null)
        {
            w.Empty(name, attrs);
            return;
        }

        w.Open(name, attrs);
        w.Empty("lease", ("expiry", Num(lease.Expiry)), ("unit", lease.Unit));
        w.Close(name);
    }

    private static void WriteVirtualPort(XmlText w, VirtualPort? vp)
    {
        if (vp is null)
        {
            return;
        }

        if (vp.Parameters.Count == 0)
        {
            w.Empty("virtualport", ("type", vp.Type));
            return;
        }

        w.Open("virtualport", ("type", vp.Type));
        w.Empty("parameters", vp.Parameters.Select(p => (p.Key, (string?)p.Value)).ToArray());
        w.Close("virtualport");
    }

    private static string? YesNo(bool? b) => b switch { true => "yes", false => "no", null => null };

    private static string? Num(long? n) => n?.ToString(CultureInfo.InvariantCulture);

    /// <summary>A tiny writer for libvirt's XML layout; attributes whose value is null are left out.</summary>
    private sealed class XmlText
    {
        private readonly StringBuilder _sb = new();
        private int _depth;

        public void Open(string name, params (string Name, string? Value)[] attrs)
        {
            Start(name, attrs);
            _sb.Append(">\n");
            _depth++;
        }

        public void Empty(string name, params (string Name, string? Value)[] attrs)
        {
            Start(name, attrs);
            _sb.Append("/>\n");
        }

        public void TextElement(string name, string text)
        {
            Indent();
            _sb.Append('<').Append(name).Append('>').Append(Escape(text, attribute: false)).Append("</").Append(name).Append(">\n");
        }

        public void Close(string name)
        {
            _depth--;
            Indent();
            _sb.Append("</").Append(name).Append(">\n");
        }

        public override string ToString() => _sb.ToString();

        private void Start(string name, (string Name, string? Value)[] attrs)
        {
            Indent();
            _sb.Append('<').Append(name);
            foreach (var (n, v) in attrs)
            {
                if (v is not null)
                {
                    _sb.Append(' ').Append(n).Append("='").Append(Escape(v, attribute: true)).Append('\'');
                }
            }
        }

        private void Indent() => _sb.Append(' ', _depth * 2);

        private static string Escape(string s, bool attribute)
        {
            var sb = new StringBuilder(s.Length);
            foreach (char c in s)
            {
                sb.Append(c switch
                {
                    '<' => "&lt;",
                    '>' => "&gt;",
                    '&' => "&amp;",
                    '\'' when attribute => "&apos;",
                    '"' when attribute => "&quot;",
                    _ => c.ToString(),
                });
            }

            return sb.ToString();
        }
    }

    internal static string Format(IPAddress ip) => ip.ToString();
}
