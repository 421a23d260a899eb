using System.Globalization;
using Vireo.Host.Discovery;
using Vireo.Host.Xml;

namespace Vireo.Host.Tests;

/// <summary>Discovery on this machine: its capabilities validate and agree with sysfs read independently here.</summary>
public sealed class RealHostTests
{
    [Fact]
    public void CapabilitiesOfThisHostValidateAndMatchSysfs()
    {
        var f = HostDiscovery.Discover(HostRoot.System);
        string xml = CapabilitiesXml.Format(f, [FixtureDiscoveryTests.Guest with { DomainTypes = ["qemu"] }]);
        var (code, output) = TestPaths.ValidateXml(xml, "capability.rng");
        Assert.True(code == 0, output);

        var nodes = Directory.Exists("/sys/devices/system/node")
            ? Directory.GetDirectories("/sys/devices/system/node", "node*").Select(d => int.Parse(Path.GetFileName(d)[4..], CultureInfo.InvariantCulture)).Order().ToList()
            : [0];
        Assert.Equal(nodes, f.Cells.Select(c => c.Id));
        Assert.Equal(File.ReadAllText("/sys/devices/system/cpu/online").Trim(), f.OnlineCpus.ToString());
        Assert.Equal(Environment.ProcessorCount, f.OnlineCpus.Count);
        var pci = Directory.GetFileSystemEntries("/sys/bus/pci/devices").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(pci, f.PciDevices.Select(p => p.Address.ToString()));
        foreach (var p in f.PciDevices)
        {
            string vendor = File.ReadAllText($"/sys/bus/pci/devices/{p.Address}/vendor").Trim();
            Assert.Equal(vendor, $"0x{p.Vendor:x4}");
        }

        Assert.Contains($"<cells num='{nodes.Count}'>", xml);
        Assert.Equal(File.Exists("/dev/kvm"), f.Virt.DevKvm);
        Assert.Equal(Directory.Exists("/sys/module/kvm_pvm"), f.Virt.ParavirtKvm);
    }

    [Fact]
    public void NodeDevicesOfThisHostValidate()
    {
        var root = HostRoot.System;
        var f = HostDiscovery.Discover(root);
        foreach (var d in NodeDevices.List(root, f))
        {
            string xml = NodeDevices.DumpXml(root, f, d);
            var (code, output) = TestPaths.ValidateXml(xml, "nodedev.rng");
            Assert.True(code == 0, d.Name + ": " + output + xml);
        }
    }
}
