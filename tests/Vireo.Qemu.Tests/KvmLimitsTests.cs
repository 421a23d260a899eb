using Vireo.Qemu.Kvm;

namespace Vireo.Qemu.Tests;

/// <summary>KVM_CHECK_EXTENSION on the real /dev/kvm (present on this machine and in CI, though only paravirtual here).</summary>
public sealed class KvmLimitsTests
{
    [Fact]
    public void MaxVcpusComesFromTheKernel_OrIsUnknownWithoutADevice()
    {
        Assert.Null(KvmLimits.MaxVcpus("/nonexistent/kvm"));
        if (File.Exists("/dev/kvm"))
        {
            Assert.InRange(KvmLimits.MaxVcpus()!.Value, 1, 1 << 20);
        }
    }
}
