using Vireo.Cli.Commands.Host;

namespace Vireo.Cli.Commands;

/// <summary>Host and hypervisor commands, and node devices, with virsh's names, flags and layouts.</summary>
internal static partial class HostCommands
{
    public const string Group = "Host and hypervisor";

    public const string NodeDevGroup = "Node device";

    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");
    private static readonly OptionSpec CellOpt = new("cellno", "NUMA cell number", "cellno");
    private static readonly OptionSpec DeviceOpt = new("device", "device name (pci_0000_00_1f_2) or PCI address", "device");

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("capabilities", Group, "capabilities", "capabilities [--json]", [JsonOpt], HostHandlers.Capabilities)
        {
            Details = "The host's CPU, NUMA cells, hugepages and IOMMU, and the guests QEMU offers, as libvirt's capabilities XML.\n" +
                "Domain type 'kvm' is listed only when KVM really works (a functional probe, not just /dev/kvm).",
        },
        new("domcapabilities", Group, "domain capabilities", "domcapabilities [--virttype qemu|kvm] [--emulatorbin PATH] [--arch x86_64] [--machine TYPE] [--json]",
            [new("virttype", "virtualization type (qemu or kvm)", "virttype"), new("emulatorbin", "path to the emulator binary", "path"),
             new("arch", "domain architecture", "arch"), new("machine", "machine type", "machine"), JsonOpt], DomCapabilities.Run),
        new("nodeinfo", Group, "node information", "nodeinfo [--json]", [JsonOpt], HostHandlers.NodeInfo),
        new("freecell", Group, "NUMA free memory", "freecell [--cellno N] [--all] [--json]",
            [CellOpt, new("all", "show free memory for all NUMA cells"), JsonOpt], HostHandlers.FreeCell),
        new("freepages", Group, "NUMA free pages", "freepages [--cellno N --pagesize SIZE] [--all] [--json]",
            [CellOpt, new("pagesize", "page size (in KiB, or with a suffix: 2M, 1G)", "size"), new("all", "show free pages for all cells and sizes"), JsonOpt], HostHandlers.FreePages),
        new("allocpages", Group, "manipulate pages pool size", "allocpages <pagesize> <pagecount> [--cellno N] [--add] [--all]",
            [new("pagesize", "page size (in KiB, or with a suffix: 2M, 1G)", "size"), new("pagecount", "page count", "count"), CellOpt,
             new("add", "add pages instead of setting the pool size"), new("all", "set on all NUMA cells"), JsonOpt], HostHandlers.AllocPages),
        new("cpu-models", Group, "CPU models", "cpu-models <arch> [--json]", [new("arch", "architecture", "arch"), JsonOpt], HostHandlers.CpuModels),
        new("maxvcpus", Group, "connection vcpu maximum", "maxvcpus [--type qemu|kvm] [--machine TYPE] [--json]",
            [new("type", "domain type", "type"), new("machine", "machine type (default: QEMU's default machine)", "machine"), JsonOpt], HostHandlers.MaxVcpus)
        {
            Details = "The maximum is QEMU's own cpu-max for the machine type, from QMP query-machines (cached per QEMU binary).",
        },
        new("sysinfo", Group, "print the hypervisor sysinfo", "sysinfo [--json]", [JsonOpt], HostHandlers.SysInfo),
        new("hostname", Group, "print the hypervisor hostname", "hostname [--json]", [JsonOpt], HostHandlers.Hostname),
        new("version", Group, "show version", "version [--daemon] [--json]", [new("daemon", "report the daemon version too"), JsonOpt], HostHandlers.Version),
        new("host-validate", Group, "check that the host can run guests (virt-host-validate's QEMU checks)", "host-validate [--json]", [JsonOpt], HostHandlers.HostValidate),
        new("nodedev-list", NodeDevGroup, "enumerate devices on this host", "nodedev-list [--cap pci|net|storage|system] [--tree] [--json]",
            [new("cap", "capability names, separated by comma", "cap"), new("tree", "list devices in a tree"), new("all", "list inactive devices too (all are active)"), JsonOpt], NodeDevHandlers.List),
        new("nodedev-dumpxml", NodeDevGroup, "node device details in XML", "nodedev-dumpxml <device> [--json]", [DeviceOpt, JsonOpt], NodeDevHandlers.DumpXml),
        new("nodedev-detach", NodeDevGroup, "detach node device from its device driver (bind it to vfio-pci)", "nodedev-detach <device> [--driver vfio]",
            [DeviceOpt, new("driver", "pci device assignment backend driver (only vfio)", "driver"), JsonOpt], NodeDevHandlers.Detach)
        {
            Aliases = ["nodedev-dettach"],
            Details = "Refused, before anything is unbound, when the host uses the device: a network interface on it is up,\n" +
                "a disk on it is mounted or used as swap, or it has SR-IOV virtual functions enabled.",
        },
        new("nodedev-reattach", NodeDevGroup, "reattach node device to its device driver", "nodedev-reattach <device>", [DeviceOpt, JsonOpt], NodeDevHandlers.Reattach),
    ];
}
