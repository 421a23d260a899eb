namespace Vireo.Host;

/// <summary>Everything discovery found about one host, as plain values. Nothing here touches the host again.</summary>
public sealed record HostFacts(
    string Hostname,
    HostCpu Cpu,
    long MemoryKiB,
    long FreeMemoryKiB,
    int BasePageKiB,
    IReadOnlyList<NumaCell> Cells,
    IReadOnlyList<HugePagePool> HugePages,
    IReadOnlyList<PciDevice> PciDevices,
    IReadOnlyList<NetDevice> NetDevices,
    IReadOnlyList<BlockDevice> BlockDevices,
    IommuFacts Iommu,
    VirtFacts Virt,
    PowerFacts Power)
{
    /// <summary>Every online logical CPU, across cells.</summary>
    public CpuSet OnlineCpus => CpuSet.Of(Cpu.Cpus.Where(c => c.Online).Select(c => c.Id));

    public CpuSet NumaNodes => CpuSet.Of(Cells.Select(c => c.Id));

    /// <summary>The page sizes this host offers, in KiB: the base page and every hugepage pool.</summary>
    public IReadOnlyList<long> PageSizesKiB => [BasePageKiB, .. HugePages.Select(h => h.SizeKiB)];

    public NumaCell? Cell(int id) => Cells.FirstOrDefault(c => c.Id == id);

    public PciDevice? Pci(PciAddress address) => PciDevices.FirstOrDefault(p => p.Address == address);
}

/// <summary>The host CPU as /proc/cpuinfo and the topology directories describe it.</summary>
public sealed record HostCpu(
    string Arch,
    string? ModelName,
    string? Vendor,
    int? Family,
    int? Model,
    int? Stepping,
    long? Microcode,
    double? Mhz,
    int? PhysicalAddressBits,
    IReadOnlyList<string> Flags,
    IReadOnlyList<LogicalCpu> Cpus)
{
    /// <summary>libvirt's short vendor name: Intel, AMD, Hygon, or the raw vendor_id.</summary>
    public string? VendorShort => Vendor switch
    {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "HygonGenuine" => "Hygon",
        _ => Vendor,
    };

    public bool HasFlag(string flag) => Flags.Contains(flag, StringComparer.Ordinal);

    public int Sockets => Math.Max(1, Online.Select(c => c.SocketId).Distinct().Count());

    /// <summary>Dies per socket.</summary>
    public int Dies => Math.Max(1, Online.GroupBy(c => c.SocketId).Max(g => g.Select(c => c.DieId).Distinct().Count()));

    /// <summary>Clusters per die.</summary>
    public int Clusters => Math.Max(1, Online.GroupBy(c => (c.SocketId, c.DieId)).Max(g => g.Select(c => c.ClusterId).Distinct().Count()));

    /// <summary>Cores per socket.</summary>
    public int CoresPerSocket => Math.Max(1, Online.GroupBy(c => c.SocketId).Max(g => g.Select(c => (c.DieId, c.ClusterId, c.CoreId)).Distinct().Count()));

    /// <summary>Cores per die (libvirt's topology 'cores' attribute, with dies alongside).</summary>
    public int CoresPerDie => Math.Max(1, CoresPerSocket / Dies);

    public int ThreadsPerCore => Math.Max(1, Online.Max(c => c.Siblings.Count));

    private IEnumerable<LogicalCpu> Online
    {
        get
        {
            var online = Cpus.Where(c => c.Online).ToList();
            return online.Count > 0 ? online : [new LogicalCpu(0, 0, 0, 0, 0, CpuSet.Of([0]), true, 0)];
        }
    }
}

/// <summary>One logical CPU: where it sits in the topology, and whether it is online.</summary>
public sealed record LogicalCpu(int Id, int SocketId, int DieId, int ClusterId, int CoreId, CpuSet Siblings, bool Online, int Node);

/// <summary>A NUMA cell: its memory, CPUs, distances to every cell, and pages per size (base page first).</summary>
public sealed record NumaCell(
    int Id,
    long MemoryKiB,
    long FreeKiB,
    CpuSet Cpus,
    IReadOnlyList<(int Node, int Distance)> Distances,
    IReadOnlyList<PagePool> Pages);

/// <summary>Pages of one size in one cell (or the whole host): how many exist, how many are free.</summary>
public sealed record PagePool(long SizeKiB, long Total, long Free);

/// <summary>A hugepage pool of one size, host-wide, with its per-node split.</summary>
public sealed record HugePagePool(long SizeKiB, long Total, long Free, long Surplus, IReadOnlyList<(int Node, long Total, long Free)> PerNode);

/// <summary>The IOMMU: whether it is on (groups exist), which kind (VT-d / AMD-Vi) and its units.</summary>
public sealed record IommuFacts(bool Enabled, string? Kind, int GroupCount, IReadOnlyList<string> Units);

/// <summary>Suspend states the kernel offers (/sys/power/state).</summary>
public sealed record PowerFacts(bool SuspendMem, bool SuspendDisk)
{
    public bool SuspendHybrid => SuspendMem && SuspendDisk;
}

/// <summary>
/// Virtualization facts, stated plainly. <see cref="KvmUsable"/> is a local judgement from sysfs: a functional probe
/// belongs to the layer that can start QEMU; the CLI and engine combine the two.
/// </summary>
public sealed record VirtFacts(bool Vmx, bool Svm, bool DevKvm, bool KvmModule, bool? Nested, bool ParavirtKvm)
{
    /// <summary>/dev/kvm exists and is not the paravirtual KVM (kvm_pvm), under which ordinary guests hang.</summary>
    public bool KvmUsable => DevKvm && !ParavirtKvm;

    public string? HardwareVirt => Vmx ? "VT-x" : Svm ? "AMD-V" : null;
}
