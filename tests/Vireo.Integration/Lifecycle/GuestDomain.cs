using System.Security;
using Vireo.Integration.Guest;

namespace Vireo.Integration.Lifecycle;

/// <summary>Domain XML for the test guest, as a user would write it for virsh.</summary>
internal static class GuestDomain
{
    /// <summary>
    /// A TCG domain booting the test guest. With <paramref name="serialSocket"/> the serial port is a UNIX
    /// socket the test connects to; otherwise a pty whose output vireo logs to console.log.
    /// </summary>
    public static string Xml(TestGuest guest, string name, string? serialSocket = null, string? dataDisk = null,
        string type = "qemu", string extraCmdline = "", string? uuid = null, string memory = "<memory unit='MiB'>256</memory>")
    {
        string serial = serialSocket is null
            ? "<serial type='pty'><target port='0'/></serial>\n    <console type='pty'><target type='serial' port='0'/></console>"
            : $"<serial type='unix'><source mode='bind' path='{E(serialSocket)}'/><target port='0'/></serial>";
        string disk = dataDisk is null ? "" : $"""
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{E(dataDisk)}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            """;
        string uuidElement = uuid is null ? "" : $"<uuid>{uuid}</uuid>";
        return $"""
            <domain type='{type}'>
              <name>{E(name)}</name>
              {uuidElement}
              {memory}
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64' machine='q35'>hvm</type>
                <kernel>{E(guest.KernelPath)}</kernel>
                <initrd>{E(guest.InitrdPath)}</initrd>
                <cmdline>{E(TestGuest.CommandLine(extraCmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries)))}</cmdline>
              </os>
              <features><acpi/><apic/></features>
              <on_poweroff>destroy</on_poweroff>
              <on_reboot>restart</on_reboot>
              <on_crash>destroy</on_crash>
              <devices>
                {disk}
                <interface type='user'><model type='virtio'/></interface>
                {serial}
              </devices>
            </domain>
            """;
    }

    private static string E(string s) => SecurityElement.Escape(s);
}
