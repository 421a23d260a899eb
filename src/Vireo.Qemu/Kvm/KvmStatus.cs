namespace Vireo.Qemu.Kvm;

/// <summary>
/// Facts about hardware virtualization on this host, gathered for later decisions (nested guests, CPU models).
/// </summary>
/// <param name="DevicePresent">/dev/kvm exists.</param>
/// <param name="Module">The vendor module providing KVM: kvm_intel, kvm_amd or kvm_pvm; null when none is loaded.</param>
/// <param name="Vmx">The CPU flags show Intel VT-x.</param>
/// <param name="Svm">The CPU flags show AMD-V.</param>
/// <param name="Nested">The vendor module's <c>nested</c> parameter; null when unknown.</param>
/// <param name="UnderHypervisor">The CPU flags show <c>hypervisor</c>: this host is itself a guest.</param>
public sealed record KvmFacts(bool DevicePresent, string? Module, bool Vmx, bool Svm, bool? Nested, bool UnderHypervisor);

/// <summary>Whether QEMU can use KVM here, with the sentence that says why (or why not).</summary>
public sealed record KvmStatus(bool Usable, string Reason)
{
    public KvmFacts? Facts { get; init; }

    /// <summary>True when the verdict came from the per-boot cache rather than a fresh probe.</summary>
    public bool FromCache { get; init; }

    public override string ToString() => Reason;
}
