namespace Vireo.Cli.Tests;

/// <summary>The XML the attach shortcuts build (what --print-xml shows), without a domain.</summary>
public sealed class DeviceCommandTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await Program.RunAsync(args, o, e);
        return (code, o.ToString().Trim(), e.ToString().Trim());
    }

    [Fact]
    public async Task AttachDisk_PrintXml_BusFromTargetAndFormatFromHeader()
    {
        string qcow = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(qcow, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
            var r = await Run("attach-disk", "web1", qcow, "vdb", "--cache", "none", "--print-xml");
            Assert.Equal(0, r.Code);
            Assert.Equal($"<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='{qcow}'/><target dev='vdb' bus='virtio'/></disk>", r.Out);

            r = await Run("attach-disk", "web1", "/dev/sr0", "sdc", "--type", "cdrom", "--targetbus", "sata", "--print-xml");
            Assert.Equal("<disk type='block' device='cdrom'><driver name='qemu' type='raw'/><source dev='/dev/sr0'/><target dev='sdc' bus='sata'/><readonly/></disk>", r.Out);
        }
        finally
        {
            File.Delete(qcow);
        }
    }

    [Fact]
    public async Task AttachDisk_BadFlags_AreErrors()
    {
        Assert.Equal("error: --type must be disk, cdrom, floppy or lun, not 'tape'", (await Run("attach-disk", "web1", "/x", "vdb", "--type", "tape", "--print-xml")).Err);
        Assert.Equal("error: cannot tell the bus of target 'xyz'; give --targetbus", (await Run("attach-disk", "web1", "/x", "xyz", "--print-xml")).Err);
        Assert.Equal("error: --mode must be readonly or shareable, not 'rw'", (await Run("attach-disk", "web1", "/x", "vdb", "--mode", "rw", "--print-xml")).Err);
    }

    [Fact]
    public async Task AttachInterface_PrintXml()
    {
        var r = await Run("attach-interface", "web1", "network", "default", "--mac", "52:54:00:00:00:01", "--model", "e1000e", "--print-xml");
        Assert.Equal(0, r.Code);
        Assert.Equal("<interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/><model type='e1000e'/></interface>", r.Out);
        Assert.Equal("error: attach-interface: type 'direct' is not supported (network, bridge, ethernet, user)", (await Run("attach-interface", "web1", "direct", "eth0", "--print-xml")).Err);
    }
}
