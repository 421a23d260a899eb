using Vireo.Host.Discovery;
using Vireo.Host.Xml;

namespace Vireo.Host.Tests;

public sealed class FixtureDiscoveryTests
{
    internal static readonly GuestCapabilities Guest = new(
        "x86_64",
        64,
        "/usr/bin/qemu-system-x86_64",
        [new MachineType("pc-i440fx-7.2", "pc", true, false), new MachineType("pc-q35-7.2", "q35", false, false), new MachineType("pc-i440fx-2.0", null, false, true)],
        ["qemu", "kvm"]);

    [Fact]
    public void TwoSocketHostHasTwoCellsWithTheirCpusAndDistances()
    {
        var f = HostDiscovery.Discover(TestPaths.Fixture("numa2"));
        Assert.Equal("numa2", f.Hostname);
        Assert.Equal(2, f.Cells.Count);
        Assert.Equal("0-3,8-11", f.Cells[0].Cpus.ToString());
        Assert.Equal("4-7,12-15", f.Cells[1].Cpus.ToString());
        Assert.Equal([(0, 21), (1, 10)], f.Cells[1].Distances);
        Assert.Equal(16777216, f.Cells[0].MemoryKiB);
        Assert.Equal(14000000, f.Cells[1].FreeKiB);
        Assert.Equal(2, f.Cpu.Sockets);
        Assert.Equal(4, f.Cpu.CoresPerSocket);
        Assert.Equal(2, f.Cpu.ThreadsPerCore);
        Assert.Equal("Intel", f.Cpu.VendorShort);
        Assert.Equal(1, f.Cpu.Cpus.Single(c => c.Id == 13).SocketId);
        Assert.Equal(1, f.Cpu.Cpus.Single(c => c.Id == 13).Node);
        Assert.Equal("5,13", f.Cpu.Cpus.Single(c => c.Id == 13).Siblings.ToString());
    }

    [Fact]
    public void HugepagePoolsPerSizeAndNode()
    {
        var f = HostDiscovery.Discover(TestPaths.Fixture("numa2"));
        Assert.Equal([4L, 2048L, 1048576L], f.PageSizesKiB);
        var giga = f.HugePages.Single(h => h.SizeKiB == 1048576);
        Assert.Equal(8, giga.Total);
        Assert.Equal(6, giga.Free);
        Assert.Equal([(0, 4L, 4L), (1, 4L, 2L)], giga.PerNode);
        var cell0 = f.Cells[0].Pages;
        Assert.Equal(new PagePool(2048, 512, 256), cell0[1]);
        // 16 GiB minus 512 × 2 MiB and 4 × 1 GiB, in 4 KiB pages.
        Assert.Equal((16777216L - 512 * 2048 - 4 * 1048576) / 4, cell0[0].Total);
    }

    [Fact]
    public void SriovPhysicalAndVirtualFunctions()
    {
        var f = HostDiscovery.Discover(TestPaths.Fixture("numa2"));
        var pf = f.Pci(PciAddress.TryParse("0000:3b:00.0")!.Value)!;
        Assert.Equal(63, pf.Sriov!.TotalVfs);
        Assert.Equal(2, pf.Sriov.NumVfs);
        Assert.Equal(["0000:3b:10.0", "0000:3b:10.2"], pf.Sriov.VirtualFunctions.Select(a => a.ToString()));
        Assert.Equal("ixgbe", pf.Driver);
        Assert.Equal(10, pf.IommuGroup);
        Assert.Equal(["ens1f0"], pf.NetInterfaces);
        var vf = f.Pci(PciAddress.TryParse("0000:3b:10.2")!.Value)!;
        Assert.Equal(pf.Address, vf.PhysicalFunction);
        Assert.True(vf.IsVfioBound);
        Assert.Equal("vfio-pci", vf.DriverOverride);
        Assert.Equal(["sda"], f.Pci(PciAddress.TryParse("0000:00:17.0")!.Value)!.BlockDevices);
        Assert.Equal(1, f.Pci(PciAddress.TryParse("0000:af:00.0")!.Value)!.NumaNode);
    }

    [Fact]
    public void VirtualizationAndIommuFacts()
    {
        var numa = HostDiscovery.Discover(TestPaths.Fixture("numa2"));
        Assert.Equal(new VirtFacts(true, false, true, true, true, false), numa.Virt);
        Assert.True(numa.Virt.KvmUsable);
        Assert.Equal("VT-x", numa.Virt.HardwareVirt);
        Assert.True(numa.Iommu.Enabled);
        Assert.Equal("VT-d", numa.Iommu.Kind);
        Assert.Equal(9, numa.Iommu.GroupCount);
        Assert.Equal(["dmar0", "dmar1"], numa.Iommu.Units);

        var small = HostDiscovery.Discover(TestPaths.Fixture("small"));
        Assert.True(small.Virt.ParavirtKvm);
        Assert.True(small.Virt.DevKvm);
        Assert.False(small.Virt.KvmUsable);
        Assert.False(small.Iommu.Enabled);
        Assert.Single(small.Cells);
    }

    [Theory]
    [InlineData("numa2")]
    [InlineData("small")]
    public void CapabilitiesXmlIsExactAndValid(string fixture)
    {
        var f = HostDiscovery.Discover(TestPaths.Fixture(fixture));
        string xml = CapabilitiesXml.Format(f, [Guest]);
        TestPaths.AssertGolden($"{fixture}.capabilities.xml", xml);
        var (code, output) = TestPaths.ValidateXml(xml, "capability.rng");
        Assert.True(code == 0, output);
    }

    [Theory]
    [InlineData("numa2")]
    [InlineData("small")]
    public void FactsJsonIsExact(string fixture)
    {
        var f = HostDiscovery.Discover(TestPaths.Fixture(fixture));
        TestPaths.AssertGolden($"{fixture}.facts.json", HostFactsJson.Format(f) + "\n");
    }

    [Theory]
    [InlineData("numa2", "pci_0000_3b_00_0")]
    [InlineData("numa2", "pci_0000_3b_10_2")]
    [InlineData("numa2", "computer")]
    [InlineData("numa2", "net_ens1f0_a0_36_9f_11_22_30")]
    [InlineData("numa2", "block_sda")]
    [InlineData("small", "pci_0000_00_03_0")]
    public void NodeDeviceXmlIsExactAndValid(string fixture, string device)
    {
        var root = TestPaths.Fixture(fixture);
        var f = HostDiscovery.Discover(root);
        var devices = NodeDevices.List(root, f);
        string xml = NodeDevices.DumpXml(root, f, NodeDevices.Find(devices, device));
        TestPaths.AssertGolden($"{fixture}.{device}.xml", xml);
        var (code, output) = TestPaths.ValidateXml(xml, "nodedev.rng");
        Assert.True(code == 0, output);
    }

    [Fact]
    public void NodeDeviceListNamesAndParents()
    {
        var root = TestPaths.Fixture("numa2");
        var devices = NodeDevices.List(root, HostDiscovery.Discover(root));
        string listing = string.Join("\n", devices.Select(d => $"{d.Name} {d.Capability} {d.Parent}"));
        TestPaths.AssertGolden("numa2.nodedev-list.txt", listing + "\n");
        Assert.Equal("pci_0000_3a_00_0", devices.Single(d => d.Name == "pci_0000_3b_00_1").Parent);
        Assert.Throws<Vireo.Model.VireoException>(() => NodeDevices.Find(devices, "pci_0000_99_00_0"));
    }

    [Fact]
    public void HugetlbfsMountsWithTheirPageSizes()
    {
        var mounts = HugePages.Mounts(TestPaths.Fixture("numa2"));
        Assert.Equal([new HugetlbfsMount("/dev/hugepages", 2048), new HugetlbfsMount("/dev/hugepages1G", 1048576)], mounts);
        Assert.Empty(HugePages.Mounts(TestPaths.Fixture("small")));
    }
}
