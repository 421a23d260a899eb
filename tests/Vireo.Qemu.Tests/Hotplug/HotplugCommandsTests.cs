using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Hotplug;

namespace Vireo.Qemu.Tests.Hotplug;

/// <summary>The QMP JSON hotplug sends, built from the same properties as the command line.</summary>
public sealed class HotplugCommandsTests
{
    private static string Xml(string machine, string devices) => $"""
        <domain type='qemu'>
          <name>hp</name>
          <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
          <memory unit='MiB'>256</memory>
          <os><type arch='x86_64' machine='{machine}'>hvm</type><kernel>/boot/vmlinuz</kernel></os>
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/vm/a.img'/><target dev='vda' bus='virtio'/></disk>
            <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
            {devices}
          </devices>
        </domain>
        """;

    private static DomainDefinition Running(string machine = "q35", int spare = DeviceLayout.SpareRootPorts) =>
        DeviceLayout.Materialize(DomainDefinition.Parse(Xml(machine, "")), spare);

    private static DomainDefinition With(DomainDefinition live, string device) =>
        DomainDefinition.Parse(live.ToXml().Replace("</devices>", device + "</devices>", StringComparison.Ordinal));

    private static JsonElement Args(QmpCommand c) => JsonDocument.Parse(c.ArgumentsJson).RootElement;

    [Fact]
    public void Materialize_PinsEveryPciDevice_AndLeavesSpareRootPorts()
    {
        var live = Running();
        Assert.Equal(DeviceLayout.SpareRootPorts, DeviceLayout.FreeRootPorts(live));
        Assert.All(live.Devices.Disks, d => Assert.True(d.Address is { IsPci: true }));
        Assert.All(live.Devices.Interfaces, n => Assert.Equal("net0", n.UserAlias));
        Assert.NotNull(live.Devices.MemBalloon?.Address);

        // Running it through again changes nothing: the layout is a fixed point.
        Assert.Equal(live.ToXml(), DeviceLayout.Materialize(DomainDefinition.Parse(live.ToXml())).ToXml());
        Assert.Equal(QemuCommandLine.PciAddresses(live)["virtio-disk0"], QemuCommandLine.PciAddresses(DomainDefinition.Parse(Xml("q35", "")))["virtio-disk0"]);
    }

    [Fact]
    public void Qcow2Disk_BlockdevAddPerNode_ThenDeviceAddOnAFreeRootPort()
    {
        var live = Running();
        var def = With(live, "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='/vm/b,c.qcow2'/><target dev='vdb' bus='virtio'/></disk>");
        var cmds = HotplugCommands.Attach(def, "virtio-disk1", new HotplugInputs());
        Assert.Equal(["blockdev-add", "blockdev-add", "device_add"], cmds.Select(c => c.Name));

        var file = Args(cmds[0]);
        Assert.Equal("file", file.GetProperty("driver").GetString());
        Assert.Equal("/vm/b,c.qcow2", file.GetProperty("filename").GetString());
        string storage = file.GetProperty("node-name").GetString()!;
        Assert.StartsWith("virtio-disk1-s", storage, StringComparison.Ordinal);
        Assert.True(file.GetProperty("cache").GetProperty("direct").GetBoolean());
        Assert.False(file.GetProperty("cache").GetProperty("no-flush").GetBoolean());

        var format = Args(cmds[1]);
        Assert.Equal("qcow2", format.GetProperty("driver").GetString());
        Assert.Equal(storage, format.GetProperty("file").GetString());
        string top = format.GetProperty("node-name").GetString()!;
        Assert.True(top.Length <= 31);

        var dev = Args(cmds[2]);
        Assert.Equal("virtio-blk-pci", dev.GetProperty("driver").GetString());
        Assert.Equal(top, dev.GetProperty("drive").GetString());
        Assert.Equal("virtio-disk1", dev.GetProperty("id").GetString());
        Assert.Equal("0x0", dev.GetProperty("addr").GetString());
        Assert.Equal("on", dev.GetProperty("write-cache").GetString());

        // On a root port, and not one the running devices use.
        string bus = dev.GetProperty("bus").GetString()!;
        Assert.StartsWith("pci.", bus, StringComparison.Ordinal);
        var used = QemuCommandLine.PciAddresses(live).Values.Select(a => a.Split(':')[1]).ToHashSet();
        Assert.DoesNotContain(int.Parse(bus[4..]).ToString("x2"), used);
    }

    [Fact]
    public void TapInterface_NetdevAddTakesTheGetfdName()
    {
        var live = Running();
        var def = With(live, "<interface type='ethernet'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/><alias name='net1'/></interface>");
        var cmds = HotplugCommands.Attach(def, "net1", new HotplugInputs { TapFdName = "fd-net1" });
        Assert.Equal(["netdev_add", "device_add"], cmds.Select(c => c.Name));
        var nd = Args(cmds[0]);
        Assert.Equal("tap", nd.GetProperty("type").GetString());
        Assert.Equal("fd-net1", nd.GetProperty("fd").GetString());
        Assert.Equal("hostnet1", nd.GetProperty("id").GetString());
        var dev = Args(cmds[1]);
        Assert.Equal("virtio-net-pci", dev.GetProperty("driver").GetString());
        Assert.Equal("hostnet1", dev.GetProperty("netdev").GetString());
        Assert.Equal("52:54:00:aa:bb:cc", dev.GetProperty("mac").GetString());
    }

    [Fact]
    public void PcMachine_NewDeviceGetsAFreeSlotOnPci0()
    {
        var live = Running("pc");
        var def = With(live, "<interface type='user'><mac address='52:54:00:aa:bb:cd'/><model type='e1000'/><alias name='net1'/></interface>");
        var dev = Args(HotplugCommands.Attach(def, "net1", new HotplugInputs()).Last());
        Assert.Equal("e1000", dev.GetProperty("driver").GetString());
        Assert.Equal("pci.0", dev.GetProperty("bus").GetString());
        string addr = dev.GetProperty("addr").GetString()!;
        Assert.DoesNotContain(QemuCommandLine.PciAddresses(live).Values, a => a.StartsWith("0000:00:" + addr[2..].PadLeft(2, '0') + ".", StringComparison.Ordinal));
    }

    [Fact]
    public void NoFreeRootPort_IsAClearError()
    {
        // Without extra spares the plan still leaves libvirt's one spare port; a first hotplug takes it.
        var live = Running(spare: 0);
        Assert.Equal(1, DeviceLayout.FreeRootPorts(live));
        var one = With(live, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/vm/b.img'/><target dev='vdb' bus='virtio'/></disk>");
        HotplugCommands.Attach(one, "virtio-disk1", new HotplugInputs());
        var full = DeviceLayout.Pin(one);
        Assert.Equal(0, DeviceLayout.FreeRootPorts(full));
        var two = With(full, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/vm/c.img'/><target dev='vdc' bus='virtio'/></disk>");
        var e = Assert.Throws<VireoException>(() => HotplugCommands.Attach(two, "virtio-disk2", new HotplugInputs()));
        Assert.Contains("no free PCIe root port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConventionalPciDeviceOnQ35_NeedsABridgeThatCannotBeHotplugged()
    {
        var live = Running();
        var def = With(live, "<interface type='user'><mac address='52:54:00:aa:bb:ce'/><model type='rtl8139'/><alias name='net1'/></interface>");
        var e = Assert.Throws<VireoException>(() => HotplugCommands.Attach(def, "net1", new HotplugInputs()));
        Assert.Contains("cannot be hot-plugged", e.Message, StringComparison.Ordinal);
    }
}
