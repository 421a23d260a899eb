using Vireo.Model.Domains;
using Vireo.Qemu.Argv;

namespace Vireo.Qemu;

/// <summary>
/// Turns a domain definition into QEMU's argument array (without the emulator path). No shell is ever involved:
/// every value is one argv element, and commas inside option values are doubled as QEMU's option parser requires.
/// Device ids follow libvirt's aliases (virtio-disk0, net0, serial0...), so QMP commands can name devices.
/// </summary>
public static class QemuCommandLine
{
    public static IReadOnlyList<string> Build(DomainDefinition def, QemuArgvOptions options) => Write(def, options).Args;

    /// <summary>The whole command line with its typed options kept (hotplug turns the same properties into QMP).</summary>
    internal static ArgvWriter Write(DomainDefinition def, QemuArgvOptions options)
    {
        ArgumentNullException.ThrowIfNull(def);
        ArgumentNullException.ThrowIfNull(options);
        DomainDefinition full = ImplicitDevices.Expand(def);
        var w = new ArgvWriter(full, options);
        MachineArgs.Write(w);
        PlatformArgs.Write(w);
        if (full.IoThreads > 0)
        {
            for (int i = 1; i <= full.IoThreads; i++)
            {
                w.Add("-object", "iothread,id=iothread" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        ControllerArgs.Write(w);
        DiskArgs.Write(w);
        NetArgs.Write(w);
        CharArgs.Write(w);
        DeviceArgs.WriteInputs(w);
        DeviceArgs.WriteTpms(w);
        DeviceArgs.WriteGraphics(w);
        DeviceArgs.WriteVideos(w);
        DeviceArgs.WriteSounds(w);
        DeviceArgs.WriteWatchdogs(w);
        HostdevArgs.Write(w);
        DeviceArgs.WriteBalloon(w);
        DeviceArgs.WriteRngs(w);
        DeviceArgs.WritePanics(w);
        MemoryArgs.WriteDimms(w);
        w.Add("-msg", "timestamp=on");
        return w;
    }

    /// <summary>The PCI address each device gets (explicit or assigned), keyed by device alias; for dumpxml of live domains and hotplug.</summary>
    public static IReadOnlyDictionary<string, string> PciAddresses(DomainDefinition def)
    {
        DomainDefinition full = ImplicitDevices.Expand(def);
        var plan = PciPlan.Create(full);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(object device, string alias)
        {
            if (plan.AddressOf(device) is DeviceAddress a && alias.Length > 0)
            {
                result[alias] = a.PciText();
            }
        }
        foreach (Disk d in full.Devices.Disks)
        {
            Add(d, d.Alias);
        }
        foreach (NetInterface n in full.Devices.Interfaces)
        {
            Add(n, n.Alias);
        }
        foreach (Controller c in plan.Controllers.Concat(full.Devices.Controllers))
        {
            Add(c, c.Alias);
        }
        return result;
    }
}
