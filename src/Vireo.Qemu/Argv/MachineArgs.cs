using System.Globalization;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>The machine as a whole: name, machine type, accelerator, CPU, memory, SMP/NUMA, clock, boot, monitor.</summary>
internal static class MachineArgs
{
    public static void Write(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        w.Add("-name", new QemuOpts().Add("guest", def.Name).Add("debug-threads", true));
        if (w.Options.StartPaused)
        {
            w.Flag("-S");
        }
        WriteMachine(w);
        var accel = new QemuOpts(w.Options.Accelerator);
        if (w.Options.Accelerator == "kvm" && def.Features.KvmDirtyRingSize is int ring)
        {
            accel.Add("dirty-ring-size", ring);
        }
        w.Add("-accel", accel);
        CpuArgs.Write(w);
        MemoryArgs.Write(w);
        w.Add("-uuid", def.Uuid.ToString("D"));
        if (def.Devices.Graphics.Count == 0)
        {
            w.Add("-display", "none");
        }
        w.Flag("-no-user-config");
        w.Flag("-nodefaults");
        WriteMonitor(w);
        WriteClock(w);
        // QEMU stops instead of exiting on guest poweroff, so the engine sees SHUTDOWN and applies on_poweroff.
        w.Flag("-no-shutdown");
        WriteBoot(w);
    }

    private static void WriteMachine(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        string machine = def.Os.Machine ?? "pc";
        var m = new QemuOpts(machine).Add("usb", false);
        if (def.Features.Vmport is bool vmport)
        {
            m.Add("vmport", vmport);
        }
        if (def.Features.Smm is bool smm)
        {
            m.Add("smm", smm);
        }
        else if (FirmwareArgs.NeedsSmm(def))
        {
            m.Add("smm", true);
        }
        m.Add("dump-guest-core", false);
        if (!MemoryArgs.UsesNuma(def))
        {
            m.Add("memory-backend", "pc.ram");
        }
        FirmwareArgs.AddMachineProperties(w, m);
        if (def.Clock.Timers.FirstOrDefault(t => t.Name == "hpet") is { Present: bool hpet })
        {
            m.Add("hpet", hpet);
        }
        m.Add("acpi", def.Features.Acpi);
        w.Add("-machine", m);
        FirmwareArgs.WriteGlobals(w);
    }

    private static void WriteMonitor(ArgvWriter w)
    {
        QemuArgvOptions o = w.Options;
        if (o.QmpFd is not null && o.QmpSocketPath is not null)
        {
            throw new ArgumentException("set either QmpFd or QmpSocketPath, not both");
        }
        if (o.QmpFd is int fd)
        {
            w.Add("-chardev", new QemuOpts("socket").Add("id", "charmonitor").Add("fd", fd).Add("server", true).Add("wait", false));
        }
        else if (o.QmpSocketPath is string path)
        {
            w.Add("-chardev", new QemuOpts("socket").Add("id", "charmonitor").Add("path", path).Add("server", true).Add("wait", false));
        }
        else
        {
            return;
        }
        w.Add("-mon", new QemuOpts().Add("chardev", "charmonitor").Add("id", "monitor").Add("mode", "control"));
    }

    private static void WriteClock(ArgvWriter w)
    {
        ClockConfig clock = w.Def.Clock;
        var rtc = new QemuOpts();
        switch (clock.Offset)
        {
            case "localtime":
                rtc.Add("base", "localtime");
                break;
            case "variable":
                DateTime basis = clock.Basis == "localtime" ? DateTime.Now : DateTime.UtcNow;
                rtc.Add("base", basis.AddSeconds(clock.Adjustment ?? 0).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
                break;
            case "timezone":
                // QEMU has no timezone base; the engine sets TZ in QEMU's environment and localtime follows it.
                rtc.Add("base", "localtime");
                break;
            default:
                rtc.Add("base", "utc");
                break;
        }
        foreach (ClockTimer t in clock.Timers)
        {
            switch (t.Name)
            {
                case "rtc":
                    if (t.TickPolicy == "catchup")
                    {
                        rtc.Add("driftfix", "slew");
                    }
                    if (t.Track is "guest")
                    {
                        rtc.Add("clock", "vm");
                    }
                    else if (t.Track is "realtime")
                    {
                        rtc.Add("clock", "rt");
                    }
                    break;
                case "pit" when t.TickPolicy is "delay" or "discard":
                    w.Add("-global", "kvm-pit.lost_tick_policy=" + t.TickPolicy);
                    break;
            }
        }
        w.Add("-rtc", rtc);
    }

    private static void WriteBoot(ArgvWriter w)
    {
        OsConfig os = w.Def.Os;
        var boot = new QemuOpts();
        if (os.BootMenu is bool menu)
        {
            boot.Add("menu", menu);
            if (menu && os.BootMenuTimeoutMs is int timeout)
            {
                boot.Add("splash-time", timeout);
            }
        }
        boot.Add("strict", true);
        if (os.BiosRebootTimeout is int reboot)
        {
            boot.Add("reboot-timeout", reboot);
        }
        w.Add("-boot", boot);
        if (os.Kernel is not null)
        {
            w.Add("-kernel", os.Kernel);
        }
        if (os.Initrd is not null)
        {
            w.Add("-initrd", os.Initrd);
        }
        if (os.Cmdline is not null)
        {
            w.Add("-append", os.Cmdline);
        }
        if (os.Dtb is not null)
        {
            throw VireoException.Unsupported("<os/dtb> is not supported on x86");
        }
        if (os.BiosUseSerial == true)
        {
            w.Add("-device", "sga");
        }
    }
}
