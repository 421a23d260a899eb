using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Tests;

public sealed class QemuCommandLineTests
{
    private const string Minimal = """
        <domain type='qemu'>
          <name>web1</name>
          <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
          <memory unit='MiB'>256</memory>
          <vcpu>2</vcpu>
          <os>
            <type arch='x86_64' machine='pc'>hvm</type>
            <kernel>/boot/vmlinuz</kernel>
            <initrd>/boot/initrd.img</initrd>
            <cmdline>console=ttyS0 quiet</cmdline>
          </os>
          <features><acpi/><apic/></features>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/vm/a,b.qcow2'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <interface type='user'>
              <mac address='52:54:00:12:34:56'/>
              <model type='virtio'/>
            </interface>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
            <memballoon model='none'/>
          </devices>
        </domain>
        """;

    private static readonly QemuArgvOptions Options = new() { RuntimeDirectory = "/run/vireo/web1", QmpFd = 3 };

    private static IReadOnlyList<string> Build(string xml, QemuArgvOptions? options = null) =>
        QemuCommandLine.Build(DomainDefinition.Parse(xml), options ?? Options);

    private static string After(IReadOnlyList<string> argv, string flag, string startsWith)
    {
        for (int i = 0; i + 1 < argv.Count; i++)
        {
            if (argv[i] == flag && argv[i + 1].StartsWith(startsWith, StringComparison.Ordinal))
            {
                return argv[i + 1];
            }
        }
        throw new Xunit.Sdk.XunitException($"no {flag} {startsWith}... in: {string.Join(' ', argv)}");
    }

    [Fact]
    public void GoldenArgvForAMinimalGuest()
    {
        IReadOnlyList<string> argv = Build(Minimal);
        string[] expected =
        [
            "-name", "guest=web1,debug-threads=on",
            "-S",
            "-machine", "pc,usb=off,dump-guest-core=off,memory-backend=pc.ram,acpi=on",
            "-accel", "tcg",
            "-cpu", "qemu64",
            "-m", "size=262144k",
            "-object", "memory-backend-ram,id=pc.ram,size=268435456",
            "-smp", "2,sockets=2,cores=1,threads=1",
            "-uuid", "c7a5fdbd-edaf-9455-926a-d65c16db1809",
            "-display", "none",
            "-no-user-config",
            "-nodefaults",
            "-chardev", "socket,id=charmonitor,fd=3,server=on,wait=off",
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-rtc", "base=utc",
            "-no-shutdown",
            "-boot", "strict=on",
            "-kernel", "/boot/vmlinuz",
            "-initrd", "/boot/initrd.img",
            "-append", "console=ttyS0 quiet",
            "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2",
            "-blockdev", "driver=file,filename=/vm/a,,b.qcow2,node-name=libvirt-1-storage,auto-read-only=on,discard=unmap",
            "-blockdev", "node-name=libvirt-1-format,read-only=off,driver=qcow2,file=libvirt-1-storage",
            "-device", "virtio-blk-pci,bus=pci.0,addr=0x3,drive=libvirt-1-format,id=virtio-disk0",
            "-netdev", "user,id=hostnet0",
            "-device", "virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56,bus=pci.0,addr=0x2",
            "-chardev", "pty,id=charserial0",
            "-device", "isa-serial,chardev=charserial0,id=serial0,index=0",
            "-msg", "timestamp=on",
        ];
        Assert.Equal(expected, argv);
    }

    [Fact]
    public void CommasInValuesAreDoubled()
    {
        string xml = Minimal.Replace("<name>web1</name>", "<name>web,1</name>", StringComparison.Ordinal);
        IReadOnlyList<string> argv = Build(xml);
        Assert.Equal("guest=web,,1,debug-threads=on", After(argv, "-name", "guest="));
        Assert.Contains("filename=/vm/a,,b.qcow2,", After(argv, "-blockdev", "driver=file"), StringComparison.Ordinal);
    }

    [Fact]
    public void SerialLogAndMonitorPathAndKvm()
    {
        IReadOnlyList<string> argv = Build(Minimal, new QemuArgvOptions
        {
            RuntimeDirectory = "/run/x",
            QmpSocketPath = "/run/x/q,mp.sock",
            Accelerator = "kvm",
            StartPaused = false,
            SerialLogDirectory = "/run/x",
        });
        Assert.DoesNotContain("-S", argv);
        Assert.Equal("kvm", After(argv, "-accel", "kvm"));
        Assert.Equal("socket,id=charmonitor,path=/run/x/q,,mp.sock,server=on,wait=off", After(argv, "-chardev", "socket,id=charmonitor"));
        Assert.Equal("pty,id=charserial0,logfile=/run/x/console.log,logappend=on", After(argv, "-chardev", "pty"));
    }

    [Fact]
    public void NoMonitorWhenTheLauncherAddsItsOwn()
    {
        IReadOnlyList<string> argv = Build(Minimal, new QemuArgvOptions { RuntimeDirectory = "/run/x" });
        Assert.DoesNotContain("-mon", argv);
    }

    [Fact]
    public void TapInterfacesUseTheEnginesFds()
    {
        string xml = Minimal.Replace("<interface type='user'>", "<interface type='bridge'><source bridge='br0'/>", StringComparison.Ordinal);
        var e = Assert.Throws<VireoException>(() => Build(xml));
        Assert.Contains("TAP", e.Message, StringComparison.Ordinal);
        IReadOnlyList<string> argv = Build(xml, Options with
        {
            InterfaceTapFds = new Dictionary<int, int> { [0] = 7 },
            InterfaceVhostFds = new Dictionary<int, IReadOnlyList<int>> { [0] = [8] },
        });
        Assert.Equal("tap,fd=7,vhost=on,vhostfd=8,id=hostnet0", After(argv, "-netdev", "tap"));
    }

    [Fact]
    public void CdromOnSataAndRawDiskReadOnly()
    {
        string xml = Minimal.Replace("</devices>", """
            <disk type='file' device='cdrom'>
              <source file='/iso/debian.iso'/>
              <target dev='sda' bus='sata'/>
              <readonly/>
            </disk>
            </devices>
            """, StringComparison.Ordinal).Replace("machine='pc'", "machine='q35'", StringComparison.Ordinal);
        IReadOnlyList<string> argv = Build(xml);
        Assert.Equal("driver=file,filename=/iso/debian.iso,node-name=libvirt-1-storage,read-only=on", After(argv, "-blockdev", "driver=file,filename=/iso"));
        Assert.Equal("ide-cd,bus=ide.0,drive=libvirt-1-storage,id=sata0-0-0", After(argv, "-device", "ide-cd"));
        // q35: endpoints sit behind pcie-root-ports that the plan adds.
        Assert.StartsWith("pcie-root-port,port=8,chassis=1,id=pci.1,bus=pcie.0,multifunction=on,addr=0x1", After(argv, "-device", "pcie-root-port"), StringComparison.Ordinal);
    }
}
