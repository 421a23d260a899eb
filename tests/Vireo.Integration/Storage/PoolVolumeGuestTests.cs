using System.Text;
using Vireo.Images;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;
using Vireo.Integration.Lifecycle;
using Xunit.Abstractions;

namespace Vireo.Integration.Storage;

/// <summary>
/// A pool volume as a guest's disk, all through the CLI: a qcow2 overlay made with vol-create-as --backing-vol on
/// a golden base volume, named in the domain as <c>&lt;disk type='volume'&gt;</c> with no format (vireo takes
/// the volume's, as libvirt does), booted with <c>vireo start</c> under TCG. The guest must see the disk at its
/// capacity and read the base volume's data through the overlay; neither volume can be deleted while it runs.
/// </summary>
public sealed class PoolVolumeGuestTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(180);
    private readonly VireoCli _vireo = new();

    public void Dispose() => _vireo.Dispose();

    [Fact]
    public async Task DomainWithAnOverlayVolumeBoots_AndTheGuestReadsTheBaseThroughIt()
    {
        string poolDir = Path.Combine(_vireo.Root, "pool");
        (await _vireo.RunAsync("pool-define-as", "vm", "dir", "--target", poolDir)).EnsureSuccess();
        (await _vireo.RunAsync("pool-build", "vm")).EnsureSuccess();
        (await _vireo.RunAsync("pool-start", "vm")).EnsureSuccess();
        (await _vireo.RunAsync("vol-create-as", "vm", "golden.qcow2", "96M", "--format", "qcow2")).EnsureSuccess();
        string goldenPath = (await _vireo.RunAsync("vol-path", "golden.qcow2", "--pool", "vm")).EnsureSuccess().Stdout.Trim();
        await using (var img = DiskImage.Open(goldenPath))
        {
            await img.WriteAsync(0, Encoding.ASCII.GetBytes("VIREO-GOLDEN-BASE"));
        }

        (await _vireo.RunAsync("vol-create-as", "vm", "web1.qcow2", "96M", "--format", "qcow2",
            "--backing-vol", "golden.qcow2", "--backing-vol-format", "qcow2")).EnsureSuccess();

        string sock = Path.Combine(_vireo.Root, "serial.sock");
        string xml = GuestDomain.Xml(TestGuest.Get(), "web1", serialSocket: sock).Replace("<devices>", """
            <devices>
                <disk type='volume' device='disk'>
                  <source pool='vm' volume='web1.qcow2'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
            """, StringComparison.Ordinal);
        string xmlPath = Path.Combine(_vireo.Root, "web1.xml");
        await File.WriteAllTextAsync(xmlPath, xml);
        (await _vireo.RunAsync("define", xmlPath)).EnsureSuccess();
        (await _vireo.RunAsync("start", "web1", "--paused")).EnsureSuccess();
        try
        {
            await using var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10));
            (await _vireo.RunAsync("resume", "web1")).EnsureSuccess();
            Assert.Equal("VIREO-DISKS vda:100663296", await console.WaitForLineAsync("VIREO-DISKS", Boot));
            await console.WaitForAsync("VIREO-GUEST-READY", Boot);
            Assert.Equal("VIREO-GOLDEN-BASE", await console.RunAsync("head -c 17 /dev/vda", TimeSpan.FromSeconds(60)));
            output.WriteLine(console.Tail());

            // The live definition says what was opened: the volume's format, filled in at start.
            string live = (await _vireo.RunAsync("dumpxml", "web1")).EnsureSuccess().Stdout;
            Assert.Contains("type=\"qcow2\"", live, StringComparison.Ordinal);
            Assert.Contains("volume=\"web1.qcow2\"", live, StringComparison.Ordinal);

            // While the guest runs, neither its overlay nor the base under it can be deleted or wiped.
            var deleteBase = await _vireo.RunAsync("vol-delete", "golden.qcow2", "--pool", "vm");
            Assert.Equal(1, deleteBase.ExitCode);
            Assert.Contains("'web1'", deleteBase.Stderr, StringComparison.Ordinal);
            var wipe = await _vireo.RunAsync("vol-wipe", "web1.qcow2", "--pool", "vm");
            Assert.Equal(1, wipe.ExitCode);
            var destroyPool = await _vireo.RunAsync("pool-destroy", "vm");
            Assert.Equal(1, destroyPool.ExitCode);
            Assert.Contains("'web1'", destroyPool.Stderr, StringComparison.Ordinal);
            Assert.Contains("running", (await _vireo.RunAsync("pool-info", "vm")).EnsureSuccess().Stdout, StringComparison.Ordinal);
            Assert.True(File.Exists(goldenPath));
        }
        finally
        {
            await _vireo.RunAsync("destroy", "web1");
        }

        // Once the domain is off, the volumes are free again.
        (await _vireo.RunAsync("vol-delete", "web1.qcow2", "--pool", "vm")).EnsureSuccess();
        (await _vireo.RunAsync("vol-delete", "golden.qcow2", "--pool", "vm")).EnsureSuccess();
    }
}
