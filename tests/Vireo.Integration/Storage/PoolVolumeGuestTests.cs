using System.Diagnostics;
using System.Text;
using Vireo.Engine.State;
using Vireo.Engine.Storage;
using Vireo.Images;
using Vireo.Integration.Guest;
using Xunit.Abstractions;

namespace Vireo.Integration.Storage;

/// <summary>
/// A pool volume as a guest's disk: a qcow2 overlay made with vol-create-as --backing-vol on a base volume,
/// resolved the way a domain's <c>&lt;disk type='volume'&gt;</c> is (VolumeResolver), booted under TCG. The guest
/// must see the disk at its capacity and read the base volume's data through the overlay.
/// </summary>
public sealed class PoolVolumeGuestTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private readonly string _dir = Directory.CreateTempSubdirectory("vireo-poolguest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task GuestBootsWithAnOverlayVolumeAndReadsTheBaseThroughIt()
    {
        var paths = new VireoPaths(Path.Combine(_dir, "root"), Path.Combine(_dir, "root", "run"));
        var inUse = new List<(string, string)>();
        var pools = new StoragePoolManager(paths, new Usage(inUse));
        pools.Define($"<pool type='dir'><name>vm</name><target><path>{_dir}/pool</path></target></pool>");
        pools.Start("vm", PoolBuildMode.Default);
        var baseVol = pools.CreateVolume("vm", new VolumeCreateRequest { Name = "golden.qcow2", Capacity = 96L << 20, Format = "qcow2" });
        await using (var img = DiskImage.Open(baseVol.Path))
        {
            await img.WriteAsync(0, Encoding.ASCII.GetBytes("VIREO-GOLDEN-BASE"));
        }

        pools.CreateVolume("vm", new VolumeCreateRequest { Name = "web1.qcow2", Capacity = 96L << 20, Format = "qcow2", BackingVolume = "golden.qcow2" });
        var (path, format) = new VolumeResolver(pools).Resolve("vm", "web1.qcow2");
        Assert.Equal("qcow2", format);

        TestGuest guest = await TestGuest.GetAsync();
        string serial = Path.Combine(_dir, "serial.sock");
        string qmp = Path.Combine(_dir, "qmp.sock");
        var psi = new ProcessStartInfo("qemu-system-x86_64") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])[
            "-accel", "tcg", "-machine", "q35", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-kernel", guest.KernelPath, "-initrd", guest.InitrdPath, "-append", TestGuest.CommandLine(),
            "-chardev", $"socket,id=serial0,path={serial},server=on,wait=off", "-serial", "chardev:serial0",
            "-chardev", $"socket,id=qmp0,path={qmp},server=on,wait=off", "-mon", "chardev=qmp0,mode=control",
            "-blockdev", $"driver=file,filename={path.Replace(",", ",,", StringComparison.Ordinal)},node-name=vol0-file",
            "-blockdev", $"driver={format},file=vol0-file,node-name=vol0",
            "-device", "virtio-blk-pci,drive=vol0,id=vol0-dev"])
        {
            psi.ArgumentList.Add(a);
        }

        using var qemu = Process.Start(psi)!;
        qemu.BeginErrorReadLine();
        qemu.BeginOutputReadLine();
        try
        {
            await using var console = await SerialConsole.ConnectAsync(serial, TimeSpan.FromSeconds(30));
            await using var monitor = await MiniQmp.ConnectAsync(qmp, TimeSpan.FromSeconds(30));
            await monitor.ExecuteAsync("cont");
            inUse.Add(("web1", path));

            Assert.Equal("VIREO-DISKS vda:100663296", await console.WaitForLineAsync("VIREO-DISKS", BootTimeout));
            await console.WaitForAsync("VIREO-GUEST-READY", BootTimeout);
            Assert.Equal("VIREO-GOLDEN-BASE", await console.RunAsync("head -c 17 /dev/vda", TimeSpan.FromSeconds(60)));
            output.WriteLine(console.Tail());

            // While the guest runs, neither its overlay nor the base under it can be deleted.
            var e = Assert.Throws<Vireo.Model.VireoException>(() => pools.DeleteVolume(pools.FindVolume("golden.qcow2", "vm")));
            Assert.Contains("'web1'", e.Message, StringComparison.Ordinal);
            await monitor.ExecuteAsync("quit");
            await qemu.WaitForExitAsync().WaitAsync(BootTimeout);
        }
        finally
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
                await qemu.WaitForExitAsync();
            }
        }
    }

    private sealed class Usage(List<(string, string)> list) : IVolumeUsage
    {
        public IEnumerable<(string domain, string path)> InUse() => list;
    }
}
