using System.Globalization;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// Ports on the first USB controller's root hub for USB devices without an explicit <c>&lt;address type='usb'&gt;</c>,
/// given in libvirt's device order (disks, sounds, serials, inputs) so guests see the same layout.
/// </summary>
internal sealed class UsbPorts
{
    private readonly Dictionary<object, string> _ports = new(ReferenceEqualityComparer.Instance);

    public UsbPorts(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        var devices = new List<(object Device, DeviceAddress? Address)>();
        devices.AddRange(d.Disks.Where(x => x.Bus == "usb").Select(x => ((object)x, x.Address)));
        devices.AddRange(d.Sounds.Where(x => x.Model == "usb").Select(x => ((object)x, x.Address)));
        devices.AddRange(d.Serials.Where(x => x.TargetType == "usb-serial").Select(x => ((object)x, x.Address)));
        devices.AddRange(d.Inputs.Where(x => x.Bus == "usb").Select(x => ((object)x, x.Address)));
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach ((object device, DeviceAddress? a) in devices)
        {
            if (a is { Type: "usb", Port: string port })
            {
                used.Add(port);
                _ports[device] = port;
            }
        }
        int next = 1;
        foreach ((object device, _) in devices)
        {
            if (_ports.ContainsKey(device))
            {
                continue;
            }
            while (used.Contains(next.ToString(CultureInfo.InvariantCulture)))
            {
                next++;
            }
            string p = next.ToString(CultureInfo.InvariantCulture);
            used.Add(p);
            _ports[device] = p;
        }
    }

    public string? PortOf(object device) => _ports.TryGetValue(device, out string? p) ? p : null;
}
