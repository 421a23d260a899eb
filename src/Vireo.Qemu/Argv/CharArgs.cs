using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>Serial ports, virtio consoles, parallel ports and channels: a <c>-chardev</c> backend and a frontend device.</summary>
internal static class CharArgs
{
    public static void Write(ArgvWriter w)
    {
        DomainDevices d = w.Def.Devices;
        var virtioPorts = new VirtioSerialPorts(d);
        foreach (CharDevice s in d.Serials)
        {
            string chardev = "char" + s.Alias;
            WriteChardev(w, s, chardev, s.Type == "pty" ? SerialLog(w, s) : null);
            QemuOpts dev = s.TargetType switch
            {
                "usb-serial" => new QemuOpts("usb-serial").Add("chardev", chardev).Add("id", s.Alias),
                "pci-serial" => new QemuOpts("pci-serial").Add("chardev", chardev).Add("id", s.Alias),
                _ => new QemuOpts("isa-serial").Add("chardev", chardev).Add("id", s.Alias).Add("index", s.TargetPort ?? 0),
            };
            if (s.TargetType == "usb-serial")
            {
                dev.Add("bus", "usb.0").Add("port", w.Usb.PortOf(s));
            }
            w.Device(dev, s);
        }
        foreach (CharDevice p in d.Parallels)
        {
            string chardev = "char" + p.Alias;
            WriteChardev(w, p, chardev, null);
            w.Add("-device", new QemuOpts("isa-parallel").Add("chardev", chardev).Add("id", p.Alias));
        }
        foreach (CharDevice c in d.Consoles)
        {
            if (c.TargetType != "virtio")
            {
                // A serial-type console is serial port N seen again; its chardev is the serial's.
                if (d.Serials.Count == 0)
                {
                    throw VireoException.Invalid("a <console type='serial'> needs a <serial> port");
                }
                continue;
            }
            string chardev = "char" + c.Alias;
            WriteChardev(w, c, chardev, c.Type == "pty" ? SerialLog(w, c) : null);
            var (controller, bus, port) = virtioPorts.Assign(c, console: true);
            var dev = new QemuOpts("virtconsole");
            if (port != 0 || controller != 0)
            {
                dev.Add("bus", VirtioSerialBus(controller, bus)).Add("nr", port);
            }
            w.Add("-device", dev.Add("chardev", chardev).Add("id", c.Alias));
        }
        foreach (CharDevice ch in d.Channels)
        {
            string chardev = "char" + ch.Alias;
            if (ch.TargetType == "guestfwd")
            {
                throw VireoException.Unsupported("guestfwd channels are not supported");
            }
            WriteChardev(w, ch, chardev, null);
            var (controller, bus, port) = virtioPorts.Assign(ch, console: false);
            w.Add("-device", new QemuOpts("virtserialport").Add("bus", VirtioSerialBus(controller, bus)).Add("nr", port)
                .Add("chardev", chardev).Add("id", ch.Alias).Add("name", ch.TargetName));
        }
    }

    private static string VirtioSerialBus(int controller, int bus) => $"virtio-serial{controller}.{bus}";

    private static string? SerialLog(ArgvWriter w, CharDevice c)
    {
        if (w.Options.SerialLogDirectory is not string dir)
        {
            return null;
        }
        return Path.Combine(dir, c.Alias == "serial0" ? "console.log" : c.Alias + ".log");
    }

    /// <summary>The host side of a character device.</summary>
    public static void WriteChardev(ArgvWriter w, CharDevice c, string id, string? log)
    {
        QemuOpts o;
        switch (c.Type)
        {
            case "pty":
                o = new QemuOpts("pty").Add("id", id);
                break;
            case "null":
                o = new QemuOpts("null").Add("id", id);
                break;
            case "vc":
                o = new QemuOpts("vc").Add("id", id);
                break;
            case "stdio":
                throw VireoException.Unsupported($"<{c.Kind} type='stdio'> is not supported: Vireo's QEMU has no terminal");
            case "file":
                o = new QemuOpts("file").Add("id", id).Add("path", c.SourcePath);
                if (c.Append is bool append)
                {
                    o.Add("append", append);
                }
                break;
            case "dev":
                o = new QemuOpts(c.Kind == "parallel" ? "parallel" : "serial").Add("id", id).Add("path", c.SourcePath);
                break;
            case "pipe":
                o = new QemuOpts("pipe").Add("id", id).Add("path", c.SourcePath);
                break;
            case "unix":
                {
                    string path = c.SourcePath ?? Path.Combine(w.Options.RuntimeDirectory, (c.TargetName ?? id) + ".sock");
                    o = new QemuOpts("socket").Add("id", id).Add("path", path);
                    if (c.SourceMode != "connect")
                    {
                        o.Add("server", true).Add("wait", false);
                    }
                    else if (c.ReconnectSeconds is int r)
                    {
                        o.Add("reconnect", r);
                    }
                    break;
                }
            case "tcp":
                o = new QemuOpts("socket").Add("id", id).Add("host", c.SourceHost ?? "127.0.0.1").Add("port", c.SourceService);
                if (c.Protocol == "telnet")
                {
                    o.Add("telnet", true);
                }
                if (c.SourceMode != "connect")
                {
                    o.Add("server", true).Add("wait", false);
                }
                else if (c.ReconnectSeconds is int r)
                {
                    o.Add("reconnect", r);
                }
                break;
            case "udp":
                o = new QemuOpts("udp").Add("id", id).Add("host", c.SourceHost ?? "127.0.0.1").Add("port", c.SourceService)
                    .Add("localaddr", c.BindHost).Add("localport", c.BindService);
                break;
            default:
                throw VireoException.Unsupported($"<{c.Kind} type='{c.Type}'> is not supported");
        }
        string? logFile = c.LogFile ?? log;
        if (logFile is not null)
        {
            o.Add("logfile", logFile).Add("logappend", c.LogFile is null || (c.LogAppend ?? false) ? true : null);
        }
        w.Add("-chardev", o);
    }

    /// <summary>virtio-serial port numbers: explicit ones kept; consoles from 0, channels from 1, like libvirt.</summary>
    private sealed class VirtioSerialPorts
    {
        private readonly HashSet<(int, int, int)> _used = [];

        public VirtioSerialPorts(DomainDevices d)
        {
            foreach (CharDevice c in d.Channels.Concat(d.Consoles))
            {
                if (c.Address is { Type: "virtio-serial", Port: string p } a && int.TryParse(p, out int port))
                {
                    _used.Add((a.Controller ?? 0, a.Bus ?? 0, port));
                }
            }
        }

        public (int Controller, int Bus, int Port) Assign(CharDevice c, bool console)
        {
            int controller = c.Address?.Controller ?? 0;
            int bus = c.Address?.Bus ?? 0;
            if (c.Address is { Type: "virtio-serial", Port: string p } && int.TryParse(p, out int explicitPort))
            {
                return (controller, bus, explicitPort);
            }
            for (int port = console ? 0 : 1; port < 31; port++)
            {
                if (_used.Add((controller, bus, port)))
                {
                    return (controller, bus, port);
                }
            }
            throw VireoException.Invalid($"virtio-serial controller {controller} has no free port for {c.Alias}");
        }
    }
}
