using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>UEFI as two pflash blockdevs (read-only code, per-domain NVRAM); a ROM loader as <c>-bios</c>.</summary>
internal static class FirmwareArgs
{
    public static bool NeedsSmm(DomainDefinition def) => QemuFirmware.Plan(def, "/") is { Secure: true };

    public static void AddMachineProperties(ArgvWriter w, QemuOpts machine)
    {
        FirmwarePlan? plan = QemuFirmware.Plan(w.Def, w.Options.RuntimeDirectory, w.Options.NvramPath);
        if (plan is null || plan.Rom)
        {
            return;
        }
        machine.Add("pflash0", "libvirt-pflash0-format");
        if (plan.NvramPath is not null)
        {
            machine.Add("pflash1", "libvirt-pflash1-storage");
        }
    }

    /// <summary>Written right after <c>-machine</c>: the pflash nodes must exist before the machine uses them.</summary>
    public static void WriteGlobals(ArgvWriter w)
    {
        FirmwarePlan? plan = QemuFirmware.Plan(w.Def, w.Options.RuntimeDirectory, w.Options.NvramPath);
        if (plan is null)
        {
            return;
        }
        if (plan.Rom)
        {
            w.Add("-bios", plan.Code);
            return;
        }
        if (plan.Secure)
        {
            w.Add("-global", "driver=cfi.pflash01,property=secure,value=on");
        }
        w.Add("-blockdev", new QemuOpts().Add("driver", "file").Add("filename", plan.Code).Add("node-name", "libvirt-pflash0-storage")
            .Add("auto-read-only", true).Add("discard", "unmap"));
        w.Add("-blockdev", new QemuOpts().Add("node-name", "libvirt-pflash0-format").Add("read-only", true).Add("driver", "raw")
            .Add("file", "libvirt-pflash0-storage"));
        if (plan.NvramPath is not null)
        {
            w.Add("-blockdev", new QemuOpts().Add("driver", "file").Add("filename", plan.NvramPath).Add("node-name", "libvirt-pflash1-storage")
                .Add("read-only", false));
        }
    }
}
