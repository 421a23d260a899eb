using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>What the per-area argv writers share: the definition, the options, the PCI plan and the output.</summary>
internal sealed class ArgvWriter
{
    private readonly List<string> _args = [];

    public ArgvWriter(DomainDefinition def, QemuArgvOptions options)
    {
        Def = def;
        Options = options;
        Pci = PciPlan.Create(def);
        Usb = new UsbPorts(def);
    }

    public UsbPorts Usb { get; }

    public DomainDefinition Def { get; }

    public QemuArgvOptions Options { get; }

    public PciPlan Pci { get; }

    public bool IsQ35 => Def.Os.IsQ35;

    public IReadOnlyList<string> Args => _args;

    /// <summary>Every option written with typed properties, in order: hotplug turns the same ones into QMP JSON.</summary>
    public List<(string Flag, QemuOpts Opts)> Typed { get; } = [];

    public void Flag(string flag) => _args.Add(flag);

    public void Add(string flag, string value)
    {
        _args.Add(flag);
        _args.Add(value);
    }

    public void Add(string flag, QemuOpts opts)
    {
        Typed.Add((flag, opts));
        Add(flag, opts.ToString());
    }

    /// <summary>A <c>-device</c> with its PCI placement (bus and addr) when it has one.</summary>
    public void Device(QemuOpts opts, object? owner = null)
    {
        if (owner is not null && Pci.AddressOf(owner) is DeviceAddress a)
        {
            PciPlan.Place(opts, a, Pci);
        }
        Add("-device", opts);
    }
}
