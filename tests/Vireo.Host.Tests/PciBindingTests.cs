using Vireo.Model;

namespace Vireo.Host.Tests;

/// <summary>Detach/reattach on copies of the fixture tree: the writes land in files, never on this machine's devices.</summary>
public sealed class PciBindingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vireo-host-pci-{Guid.NewGuid():N}");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DetachWritesOverrideUnbindsAndProbes()
    {
        var root = TestPaths.CopyFixture("numa2", _dir);
        var a = PciAddress.TryParse("0000:3b:00.1")!.Value;
        Assert.True(PciBinding.Detach(root, a));
        string dev = root.PathOf("/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.1");
        Assert.Equal("vfio-pci", File.ReadAllText(Path.Combine(dev, "driver_override")));
        Assert.Equal("0000:3b:00.1", File.ReadAllText(root.PathOf("/sys/bus/pci/drivers/ixgbe/unbind")));
        Assert.Equal("0000:3b:00.1", File.ReadAllText(root.PathOf("/sys/bus/pci/drivers_probe")));
    }

    [Fact]
    public void ReattachClearsOverrideAndProbes()
    {
        var root = TestPaths.CopyFixture("numa2", _dir);
        var vf = PciAddress.TryParse("0000:3b:10.2")!.Value;
        Assert.False(PciBinding.Detach(root, vf)); // already on vfio-pci
        Assert.True(PciBinding.Reattach(root, vf));
        Assert.Equal("\n", File.ReadAllText(root.PathOf("/sys/bus/pci/devices/0000:3b:10.2/driver_override")));
        Assert.Equal("0000:3b:10.2", File.ReadAllText(root.PathOf("/sys/bus/pci/drivers/vfio-pci/unbind")));
        Assert.False(PciBinding.Reattach(root, PciAddress.TryParse("0000:3b:00.1")!.Value));
    }

    [Theory]
    [InlineData("0000:3b:00.0", "its network interface 'ens1f0' is up")]
    [InlineData("0000:00:17.0", "its disk /dev/sda1 is mounted on /")]
    public void RefusesADeviceTheHostUsesBeforeWritingAnything(string address, string reason)
    {
        var root = TestPaths.CopyFixture("numa2", _dir);
        var a = PciAddress.TryParse(address)!.Value;
        string before = Snapshot(root);
        var e = Assert.Throws<VireoException>(() => PciBinding.Detach(root, a));
        Assert.Equal(ErrorKind.InvalidState, e.Kind);
        Assert.Contains(reason, e.Message);
        Assert.Equal(before, Snapshot(root));
    }

    [Fact]
    public void RefusesAPhysicalFunctionWithVirtualFunctionsEnabled()
    {
        var root = TestPaths.CopyFixture("numa2", _dir);
        File.WriteAllText(root.PathOf("/sys/class/net/ens1f0/flags"), "0x1002");
        var e = Assert.Throws<VireoException>(() => PciBinding.Detach(root, PciAddress.TryParse("0000:3b:00.0")!.Value));
        Assert.Contains("has 2 SR-IOV virtual functions enabled", e.Message);
        Assert.Equal("(null)\n", File.ReadAllText(root.PathOf("/sys/bus/pci/devices/0000:3b:00.0/driver_override")));
    }

    [Fact]
    public void UnknownDeviceIsNotFound()
    {
        var root = TestPaths.CopyFixture("small", _dir);
        var e = Assert.Throws<VireoException>(() => PciBinding.Detach(root, PciAddress.TryParse("0000:09:00.0")!.Value));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Throws<VireoException>(() => PciAddress.ParseDeviceName("pci_0000_00_zz_0"));
        Assert.Equal("0000:00:1f.2", PciAddress.ParseDeviceName("pci_0000_00_1f_2").ToString());
    }

    private static string Snapshot(HostRoot root) => string.Join("|", new[]
    {
        "/sys/bus/pci/drivers_probe", "/sys/bus/pci/drivers/ixgbe/unbind", "/sys/bus/pci/drivers/ahci/unbind",
        "/sys/bus/pci/devices/0000:3b:00.0/driver_override", "/sys/bus/pci/devices/0000:00:17.0/driver_override",
    }.Select(p => File.ReadAllText(root.PathOf(p))));
}
