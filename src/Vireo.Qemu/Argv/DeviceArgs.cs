using System.Globalization;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>Inputs, TPM, VNC, audio, video, sound, watchdog, balloon, RNG and panic devices.</summary>
internal static class DeviceArgs
{
    public static void WriteInputs(ArgvWriter w)
    {
        foreach (InputDevice i in w.Def.Devices.Inputs)
        {
            if (i.Bus is "ps2" or null && i.Type is "mouse" or "keyboard")
            {
                continue; // built into the i8042 of both pc and q35
            }
            QemuOpts o = (i.Bus, i.Type) switch
            {
                ("usb", "tablet") => new QemuOpts("usb-tablet"),
                ("usb", "mouse") => new QemuOpts("usb-mouse"),
                ("usb", "keyboard") => new QemuOpts("usb-kbd"),
                ("virtio", "tablet") => new QemuOpts("virtio-tablet-pci"),
                ("virtio", "mouse") => new QemuOpts("virtio-mouse-pci"),
                ("virtio", "keyboard") => new QemuOpts("virtio-keyboard-pci"),
                _ => throw VireoException.Unsupported($"input type '{i.Type}' on bus '{i.Bus}' is not supported"),
            };
            o.Add("id", i.Alias);
            if (i.Bus == "usb")
            {
                o.Add("bus", "usb.0").Add("port", w.Usb.PortOf(i));
            }
            w.Device(o, i);
        }
    }

    public static void WriteTpms(ArgvWriter w)
    {
        foreach (TpmDevice t in w.Def.Devices.Tpms)
        {
            string id = "tpm-" + t.Alias;
            if (t.BackendType == "passthrough")
            {
                w.Add("-tpmdev", new QemuOpts("passthrough").Add("id", id).Add("path", t.DevicePath ?? "/dev/tpm0"));
            }
            else
            {
                string socket = w.Options.TpmEmulatorSocket ??
                    throw new VireoException(ErrorKind.HostUnavailable, "<tpm> with an emulator backend needs swtpm, and the engine did not start one (is the swtpm package installed?)");
                w.Add("-chardev", new QemuOpts("socket").Add("id", "chrtpm").Add("path", socket));
                w.Add("-tpmdev", new QemuOpts("emulator").Add("id", id).Add("chardev", "chrtpm"));
            }
            w.Add("-device", new QemuOpts(t.Model).Add("tpmdev", id).Add("id", t.Alias));
        }
    }

    public static void WriteGraphics(ArgvWriter w)
    {
        IReadOnlyList<GraphicsDevice> graphics = w.Def.Devices.Graphics;
        if (graphics.Count > 1)
        {
            throw VireoException.Unsupported("only one <graphics> device is supported");
        }
        bool audio = graphics.Count > 0 || w.Def.Devices.Sounds.Count > 0;
        if (audio)
        {
            w.Add("-audiodev", new QemuOpts().Add("id", "audio1").Add("driver", "none"));
        }
        foreach (GraphicsDevice g in graphics)
        {
            string display;
            bool toDisplay = false;
            if (g.ListenType == "socket")
            {
                display = "vnc=unix:" + (g.Socket ?? Path.Combine(w.Options.RuntimeDirectory, "vnc.sock"));
            }
            else if (g.ListenType == "none")
            {
                display = "none";
            }
            else
            {
                string host = g.ListenAddress ?? "127.0.0.1";
                if (host.Contains(':', StringComparison.Ordinal))
                {
                    host = "[" + host + "]";
                }
                bool auto = g.AutoPort == true || g.Port is null or -1;
                int port = auto ? w.Options.VncAutoPort ?? 5900 : g.Port!.Value;
                display = host + ":" + (port - 5900).ToString(CultureInfo.InvariantCulture);
                toDisplay = auto && w.Options.VncAutoPort is null;
            }
            var o = new QemuOpts(display);
            if (toDisplay)
            {
                // No port chosen by the engine: QEMU takes the first free display up to :99 (query-vnc tells which).
                o.Add("to", 99);
            }
            if (g.WebSocket is int ws)
            {
                o.Add("websocket", ws == -1 ? 5700 : ws);
            }
            if (g.Password is not null)
            {
                // The password itself is set over QMP (set_password) before cont, never on the command line.
                o.Add("password", true);
            }
            if (g.SharePolicy is not null)
            {
                o.Add("share", g.SharePolicy);
            }
            o.Add("audiodev", "audio1");
            w.Add("-vnc", o);
            if (g.Keymap is not null)
            {
                w.Add("-k", g.Keymap);
            }
        }
    }

    public static void WriteVideos(ArgvWriter w)
    {
        IReadOnlyList<VideoDevice> videos = w.Def.Devices.Videos;
        for (int i = 0; i < videos.Count; i++)
        {
            VideoDevice v = videos[i];
            bool primary = i == 0;
            QemuOpts o;
            switch (v.Model)
            {
                case "none":
                    continue;
                case "vga":
                    o = new QemuOpts(primary ? "VGA" : "secondary-vga").Add("id", v.Alias);
                    if (v.VramKiB is long vgamem)
                    {
                        o.Add("vgamem_mb", vgamem / 1024);
                    }
                    break;
                case "cirrus":
                    o = new QemuOpts("cirrus-vga").Add("id", v.Alias);
                    break;
                case "bochs":
                    o = new QemuOpts("bochs-display").Add("id", v.Alias);
                    if (v.VramKiB is long bochsMem)
                    {
                        o.Add("vgamem", bochsMem * 1024);
                    }
                    break;
                case "virtio":
                    o = new QemuOpts(primary ? "virtio-vga" : "virtio-gpu-pci").Add("id", v.Alias).Add("max_outputs", v.Heads ?? 1);
                    break;
                case "qxl":
                    o = new QemuOpts(primary ? "qxl-vga" : "qxl").Add("id", v.Alias).Add("max_outputs", v.Heads ?? 1)
                        .Add("ram_size", (v.RamKiB ?? 65536) * 1024).Add("vram_size", (v.VramKiB ?? 65536) * 1024)
                        .Add("vram64_size_mb", 0L).Add("vgamem_mb", (v.VgamemKiB ?? 16384) / 1024);
                    break;
                case "ramfb":
                    o = new QemuOpts("ramfb").Add("id", v.Alias);
                    break;
                default:
                    throw VireoException.Unsupported($"video model '{v.Model}' is not supported");
            }
            w.Device(o, v);
        }
    }

    public static void WriteSounds(ArgvWriter w)
    {
        foreach (SoundDevice s in w.Def.Devices.Sounds)
        {
            switch (s.Model)
            {
                case "ich6" or "ich9" or "ich7":
                    w.Device(new QemuOpts(s.Model switch
                    {
                        "ich9" => "ich9-intel-hda",
                        _ => "intel-hda",
                    }).Add("id", s.Alias), s);
                    w.Add("-device", new QemuOpts("hda-duplex").Add("id", s.Alias + "-codec0").Add("bus", s.Alias + ".0").Add("cad", 0L).Add("audiodev", "audio1"));
                    break;
                case "ac97":
                    w.Device(new QemuOpts("AC97").Add("audiodev", "audio1").Add("id", s.Alias), s);
                    break;
                case "es1370":
                    w.Device(new QemuOpts("ES1370").Add("audiodev", "audio1").Add("id", s.Alias), s);
                    break;
                case "sb16":
                    w.Add("-device", new QemuOpts("sb16").Add("audiodev", "audio1").Add("id", s.Alias));
                    break;
                case "usb":
                    w.Add("-device", new QemuOpts("usb-audio").Add("audiodev", "audio1").Add("id", s.Alias).Add("bus", "usb.0").Add("port", w.Usb.PortOf(s)));
                    break;
            }
        }
    }

    public static void WriteWatchdogs(ArgvWriter w)
    {
        foreach (WatchdogDevice d in w.Def.Devices.Watchdogs)
        {
            if (d.Model == "itco")
            {
                if (!w.IsQ35)
                {
                    throw VireoException.Invalid("watchdog model 'itco' exists only on q35");
                }
            }
            else
            {
                w.Device(new QemuOpts(d.Model).Add("id", d.Alias), d);
            }
            string action = d.Action switch
            {
                null => "reset",
                "dump" => throw VireoException.Unsupported("watchdog action 'dump' is not supported"),
                "inject-nmi" => "inject-nmi",
                string a => a,
            };
            w.Add("-watchdog-action", action);
        }
    }

    public static void WriteBalloon(ArgvWriter w)
    {
        if (w.Def.Devices.MemBalloon is not { Model: not "none" } b)
        {
            return;
        }
        var o = new QemuOpts(b.Model == "virtio-transitional" ? "virtio-balloon-pci-transitional" : "virtio-balloon-pci").Add("id", "balloon0");
        if (b.AutoDeflate is bool deflate)
        {
            o.Add("deflate-on-oom", deflate);
        }
        if (b.FreePageReporting is bool reporting)
        {
            o.Add("free-page-reporting", reporting);
        }
        w.Device(o, b);
    }

    public static void WriteRngs(ArgvWriter w)
    {
        foreach (RngDevice r in w.Def.Devices.Rngs)
        {
            string obj = "obj" + r.Alias;
            switch (r.BackendModel)
            {
                case "builtin":
                    w.Add("-object", new QemuOpts("rng-builtin", "qom-type").Add("id", obj));
                    break;
                case "random":
                    w.Add("-object", new QemuOpts("rng-random", "qom-type").Add("id", obj).Add("filename", r.SourcePath ?? "/dev/urandom"));
                    break;
                default:
                    string chardev = "char" + r.Alias;
                    CharArgs.WriteChardev(w, r.Egd!, chardev, null);
                    w.Add("-object", new QemuOpts("rng-egd", "qom-type").Add("id", obj).Add("chardev", chardev));
                    break;
            }
            var o = new QemuOpts("virtio-rng-pci").Add("rng", obj).Add("id", r.Alias);
            if (r.RateBytes is int bytes)
            {
                o.Add("max-bytes", bytes).Add("period", r.RatePeriodMs ?? 1000);
            }
            w.Device(o, r);
        }
    }

    public static void WritePanics(ArgvWriter w)
    {
        foreach (PanicDevice p in w.Def.Devices.Panics)
        {
            switch (p.Model)
            {
                case "isa" or null:
                    var o = new QemuOpts("pvpanic");
                    if (p.Address is { Type: "isa" })
                    {
                        throw VireoException.Unsupported("an explicit ISA address for <panic> is not supported");
                    }
                    w.Add("-device", o);
                    break;
                case "hyperv":
                    throw VireoException.Unsupported("<panic model='hyperv'> is not supported");
                default:
                    w.Add("-device", new QemuOpts("pvpanic-pci"));
                    break;
            }
        }
    }
}

/// <summary>PCI host devices through vfio-pci.</summary>
internal static class HostdevArgs
{
    public static string HostAddress(DeviceAddress a) =>
        string.Create(CultureInfo.InvariantCulture, $"{a.Domain ?? 0:x4}:{a.Bus ?? 0:x2}:{a.Slot ?? 0:x2}.{a.Function ?? 0:x}");

    public static void Write(ArgvWriter w)
    {
        var boot = BootOrder.Compute(w.Def);
        foreach (HostdevDevice h in w.Def.Devices.Hostdevs)
        {
            var o = new QemuOpts("vfio-pci").Add("host", HostAddress(h.SourceAddress)).Add("id", h.Alias);
            if (boot.TryGetValue(h, out int bi))
            {
                o.Add("bootindex", bi);
            }
            if (h.RomBar is string bar)
            {
                o.Add("rombar", bar == "on" ? 1L : 0L);
            }
            if (h.RomFile is string file)
            {
                o.Add("romfile", file);
            }
            w.Device(o, h);
        }
    }
}
