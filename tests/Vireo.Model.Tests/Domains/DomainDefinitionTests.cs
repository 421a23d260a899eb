using Vireo.Model.Domains;

namespace Vireo.Model.Tests.Domains;

public sealed class DomainDefinitionTests
{
    private static string Domain(string memory = "<memory unit='MiB'>256</memory>", string name = "web1", string devices = "", string extra = "") => $"""
        <domain type='qemu'>
          <name>{name}</name>
          {memory}
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          {extra}
          <devices>{devices}</devices>
        </domain>
        """;

    [Theory]
    [InlineData("1048576", "b", 1024)]
    [InlineData("1", "bytes", 1)]
    [InlineData("1000", "KB", 977)]
    [InlineData("1", "k", 1)]
    [InlineData("1", "KiB", 1)]
    [InlineData("1", "MB", 977)]
    [InlineData("1", "M", 1024)]
    [InlineData("1", "MiB", 1024)]
    [InlineData("1", "GB", 976563)]
    [InlineData("1", "G", 1048576)]
    [InlineData("1", "GiB", 1048576)]
    [InlineData("1", "TB", 976562500)]
    [InlineData("1", "T", 1073741824)]
    [InlineData("1", "TiB", 1073741824)]
    [InlineData("5", null, 5)]
    public void MemoryUnitsFollowLibvirt(string value, string? unit, long kib) =>
        Assert.Equal(kib, MemorySize.ToKiB(value, unit, "<memory>"));

    [Fact]
    public void UnknownUnitIsRefusedNamingIt()
    {
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain("<memory unit='furlongs'>1</memory>")));
        Assert.Contains("furlongs", e.Message, StringComparison.Ordinal);
        Assert.Contains("<memory>", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<memory>0</memory>", "memory")]
    [InlineData("<memory unit='KiB'>-5</memory>", "-5")]
    public void BadMemoryIsRefused(string memory, string mentions)
    {
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(memory)));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(mentions, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NameWithSlashAndBadUuidAreRefused()
    {
        Assert.Contains("'a/b'", Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(name: "a/b"))).Message, StringComparison.Ordinal);
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain().Replace("<vcpu>", "<uuid>not-a-uuid</uuid><vcpu>", StringComparison.Ordinal)));
        Assert.Contains("not-a-uuid", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingUuidIsGeneratedAndKeptOnRoundTrip()
    {
        DomainDefinition def = DomainDefinition.Parse(Domain());
        Assert.NotEqual(Guid.Empty, def.Uuid);
        Assert.Equal(def.Uuid, DomainDefinition.Parse(def.ToXml()).Uuid);
    }

    [Fact]
    public void HostdevOfAnotherKindIsRefusedNamingTheElement()
    {
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(devices: "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>")));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("<devices/hostdev", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownDeviceIsRefusedAndMetadataIsKept()
    {
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(devices: "<filesystem type='mount'><source dir='/a'/><target dir='b'/></filesystem>")));
        Assert.Equal("unsupported element <devices/filesystem> in domain XML: Vireo does not implement it", e.Message);

        DomainDefinition def = DomainDefinition.Parse(Domain(extra: "<metadata><app:x xmlns:app='urn:app'>keep me</app:x></metadata><pm><suspend-to-mem enabled='no'/></pm>"));
        string xml = def.ToXml();
        Assert.Contains("keep me", xml, StringComparison.Ordinal);
        Assert.Contains("<suspend-to-mem enabled=\"no\"/>", xml.Replace('\'', '"'), StringComparison.Ordinal);
    }

    [Fact]
    public void DevicesParseWithAliasesAndRoundTrip()
    {
        DomainDefinition def = DomainDefinition.Parse(Domain(devices: """
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/vm/a.qcow2'/><target dev='vdb' bus='virtio'/></disk>
            <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
            <interface type='user'><mac address='52:54:00:AA:bb:cc'/><model type='virtio'/></interface>
            <serial type='unix'><source mode='bind' path='/run/s.sock'/><target port='0'/></serial>
            <graphics type='vnc' port='5901' listen='127.0.0.1'/>
            <video><model type='virtio'/></video>
            <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
            <memballoon model='virtio'><stats period='10'/></memballoon>
            """));
        Assert.Equal("virtio-disk1", def.Devices.Disks[0].Alias);
        Assert.Equal("ide0-1-0", def.Devices.Disks[1].Alias);
        Assert.True(def.Devices.Disks[1].ReadOnly);
        Assert.Equal("net0", def.Devices.Interfaces[0].Alias);
        Assert.Equal("52:54:00:aa:bb:cc", def.Devices.Interfaces[0].Mac);
        Assert.Equal("serial0", def.Devices.Serials[0].Alias);
        Assert.Equal(10, def.Devices.MemBalloon!.StatsPeriod);
        DomainDefinition again = DomainDefinition.Parse(def.ToXml());
        Assert.Equal(def.ToXml(), again.ToXml());
        Assert.StartsWith("<domain type=\"qemu\">\n  <name>web1</name>", def.ToXml().Replace('\'', '"'), StringComparison.Ordinal);
    }

    [Fact]
    public void CollisionsAndBadBusesAreRefused()
    {
        string twoVda = "<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/></disk><disk type='file'><source file='/b'/><target dev='vda' bus='virtio'/></disk>";
        Assert.Contains("vda", Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(devices: twoVda))).Message, StringComparison.Ordinal);
        string ideOnQ35 = Domain(devices: "<disk type='file'><source file='/a'/><target dev='hda' bus='ide'/></disk>").Replace("machine='pc'", "machine='q35'", StringComparison.Ordinal);
        Assert.Contains("ide", Assert.Throws<VireoException>(() => DomainDefinition.Parse(ideOnQ35)).Message, StringComparison.Ordinal);
        string samePci = "<interface type='user'><address type='pci' domain='0' bus='0' slot='3' function='0'/></interface><memballoon model='virtio'><address type='pci' domain='0' bus='0' slot='3' function='0'/></memballoon>";
        Assert.Contains("0000:00:03.0", Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain(devices: samePci))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TuningIsModelled()
    {
        DomainDefinition def = DomainDefinition.Parse(Domain(extra: """
            <cputune><vcpupin vcpu='0' cpuset='1-2,^2'/><emulatorpin cpuset='3'/></cputune>
            <numatune><memory mode='strict' nodeset='0'/><memnode cellid='0' mode='preferred' nodeset='0'/></numatune>
            <memoryBacking><hugepages><page size='2' unit='MiB' nodeset='0'/></hugepages><locked/></memoryBacking>
            <cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu>
            """));
        Assert.Equal([1], def.CpuTune!.VcpuPins[0].Cpus);
        Assert.Equal("3", def.CpuTune.EmulatorPin);
        Assert.Equal("strict", def.NumaTune!.Mode);
        Assert.Equal(2048, def.MemoryBacking!.Pages[0].SizeKiB);
        Assert.True(def.MemoryBacking.Locked);
        Assert.Equal(262144, def.Cpu!.NumaCells[0].MemoryKiB);
    }
}
