using Vireo.Qemu.Kvm;

namespace Vireo.Qemu.Tests;

public sealed class KvmProbeTests
{
    [Fact]
    public void ThisMachine_GetsAVerdictWithAReason()
    {
        KvmStatus status = KvmProbe.Probe();
        Assert.False(string.IsNullOrWhiteSpace(status.Reason));
        Assert.NotNull(status.Facts);
        if (Directory.Exists("/sys/module/kvm_pvm"))
        {
            Assert.False(status.Usable);
            Assert.Equal(
                "KVM is not usable: /dev/kvm is provided by kvm_pvm (paravirtual KVM), which runs only specially built guest kernels; using TCG",
                status.Reason);
            Assert.Equal("kvm_pvm", status.Facts.Module);
        }
    }

    [Fact]
    public void FakeHost_PvmModule_IsNotUsable_AndFactsAreRead()
    {
        using var root = FakeHost(module: "kvm_pvm", flags: "fpu vmx sse hypervisor", device: true);
        KvmStatus status = KvmProbe.Probe(paths: Paths(root));

        Assert.False(status.Usable);
        Assert.Contains("kvm_pvm", status.Reason, StringComparison.Ordinal);
        Assert.EndsWith("using TCG", status.Reason, StringComparison.Ordinal);
        Assert.Equal(new KvmFacts(true, "kvm_pvm", true, false, null, true), status.Facts);
    }

    [Fact]
    public void FakeHost_NoDevice_SaysWhy()
    {
        using var root = FakeHost(module: null, flags: "fpu sse", device: false);
        KvmStatus status = KvmProbe.Probe(paths: Paths(root));

        Assert.False(status.Usable);
        Assert.Contains("does not exist", status.Reason, StringComparison.Ordinal);
        Assert.Contains("neither vmx nor svm", status.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void FakeHost_DeviceThatIsNotKvm_FailsTheFunctionalProbe()
    {
        // A regular file opens fine but answers no KVM ioctl: the functional probe must catch it.
        using var root = FakeHost(module: "kvm_intel", flags: "fpu vmx", device: true, nested: "Y");
        KvmStatus status = KvmProbe.Probe(paths: Paths(root));

        Assert.False(status.Usable);
        Assert.Contains("KVM_GET_API_VERSION", status.Reason, StringComparison.Ordinal);
        Assert.Equal(true, status.Facts!.Nested);
        Assert.Equal("kvm_intel", status.Facts.Module);
    }

    [Fact]
    public void Verdict_IsCachedPerBoot()
    {
        using var root = FakeHost(module: "kvm_pvm", flags: "svm", device: true);
        string cache = root.File("run");

        KvmStatus first = KvmProbe.Probe(cache, Paths(root));
        KvmStatus second = KvmProbe.Probe(cache, Paths(root));
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(first.Reason, second.Reason);
        Assert.Equal(first.Usable, second.Usable);

        // Another boot: the cached verdict no longer applies.
        File.WriteAllText(root.File("proc/sys/kernel/random/boot_id"), "another-boot\n");
        Assert.False(KvmProbe.Probe(cache, Paths(root)).FromCache);
    }

    [Fact]
    public void FunctionalProbe_OnThisMachinesDevice_ReturnsWithinItsTimeout()
    {
        if (!File.Exists("/dev/kvm"))
        {
            Assert.NotNull(KvmSmokeTest.Run("/dev/kvm", TimeSpan.FromMilliseconds(200)));
            return;
        }

        // Whatever the verdict (a paravirtual KVM may refuse or hang), the probe answers within its watchdog.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        string? failure = KvmSmokeTest.Run("/dev/kvm", TimeSpan.FromMilliseconds(300));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        TimeSpan first = watch.Elapsed;
        watch.Restart();
        KvmSmokeTest.Run("/dev/kvm", TimeSpan.FromMilliseconds(300));
        Console.WriteLine($"KVM functional probe on /dev/kvm: {failure ?? "guest ran and halted"} "
            + $"(first {first.TotalMilliseconds:0.0} ms with JIT, then {watch.Elapsed.TotalMilliseconds:0.0} ms)");
    }

    private static KvmHostPaths Paths(TempDir root)
        => new(root.File("sys"), root.File("proc"), root.File("dev/kvm"));

    private static TempDir FakeHost(string? module, string flags, bool device, string? nested = null)
    {
        var root = new TempDir();
        Directory.CreateDirectory(root.File("sys/module/kvm"));
        if (module is not null)
        {
            Directory.CreateDirectory(root.File($"sys/module/{module}/parameters"));
            if (nested is not null)
            {
                File.WriteAllText(root.File($"sys/module/{module}/parameters/nested"), nested + "\n");
            }
        }

        Directory.CreateDirectory(root.File("proc/sys/kernel/random"));
        File.WriteAllText(root.File("proc/sys/kernel/random/boot_id"), "9daef1fc-c698-4005-b395-0e7200e1f0ca\n");
        File.WriteAllText(root.File("proc/cpuinfo"), $"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n");
        Directory.CreateDirectory(root.File("dev"));
        if (device)
        {
            File.WriteAllText(root.File("dev/kvm"), "");
        }

        return root;
    }
}
