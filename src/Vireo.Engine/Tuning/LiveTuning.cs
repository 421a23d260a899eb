using Vireo.Host;

namespace Vireo.Engine.Tuning;

/// <summary>
/// One vCPU as <c>vcpuinfo</c> shows it. For an inactive domain only <see cref="Affinity"/> is known (from the
/// definition); the rest is null, which virsh prints as N/A.
/// </summary>
public sealed record VcpuInfo(int Vcpu, int? ThreadId, int? HostCpu, string? State, double? CpuTimeSeconds, CpuSet Affinity);

/// <summary>One pinnable thread (a vCPU or an I/O thread) and the CPUs it may run on.</summary>
public sealed record ThreadAffinity(int Id, int? ThreadId, CpuSet Affinity);

/// <summary><c>numatune</c>'s answer: the memory mode and node set, empty when the domain sets none.</summary>
public sealed record NumaTuneInfo(string Mode, string Nodeset, string? Placement);

/// <summary>
/// <c>schedinfo</c>'s answer: the scheduler (posix: Vireo uses no cgroups) and the &lt;cputune&gt; scheduler
/// parameters as the definition stores them. <see cref="Applied"/> is false: they are kept, not enforced.
/// </summary>
public sealed record SchedInfo(string Scheduler, IReadOnlyList<(string Name, long Value)> Parameters, bool Applied);
