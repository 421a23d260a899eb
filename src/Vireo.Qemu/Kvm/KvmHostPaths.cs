namespace Vireo.Qemu.Kvm;

/// <summary>Where the probe looks; tests point these into a fake tree.</summary>
public sealed record KvmHostPaths(string Sys = "/sys", string Proc = "/proc", string Device = "/dev/kvm")
{
    public static KvmHostPaths Default { get; } = new();
}
