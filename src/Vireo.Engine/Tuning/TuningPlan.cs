using Vireo.Host;

namespace Vireo.Engine.Tuning;

/// <summary>
/// What <see cref="DomainTuner.Validate"/> decided before QEMU starts: the NUMA node chosen for
/// <c>placement='auto'</c>, the hugepages the guest will take, and the hugetlbfs mounts QEMU maps them from.
/// </summary>
public sealed record TuningPlan
{
    /// <summary>The NUMA node chosen for <c>&lt;vcpu placement='auto'&gt;</c>; null for static placement.</summary>
    public int? AutoNode { get; init; }

    /// <summary>Where threads without an explicit pin may run: &lt;vcpu cpuset&gt;, the auto node's CPUs, or null (anywhere).</summary>
    public CpuSet? DefaultCpus { get; init; }

    /// <summary>The hugepage size (KiB) and count the guest memory needs; null without &lt;hugepages/&gt;.</summary>
    public (long SizeKiB, long Count)? Hugepages { get; init; }

    /// <summary>hugetlbfs mount per page size (KiB), for QemuArgvOptions.HugepageMounts.</summary>
    public IReadOnlyDictionary<long, string> HugepageMounts { get; init; } = new Dictionary<long, string>();
}
