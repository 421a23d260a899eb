using Vireo.Integration.Guest;
using Xunit.Abstractions;

namespace Vireo.Integration;

/// <summary>
/// The test guest itself, booted by a raw QEMU under TCG: it must reach READY, report its disk and NIC,
/// run commands typed on its console, power off on the ACPI button and on request.
/// </summary>
public sealed class GuestImageTests(ITestOutputHelper output)
{
    // A TCG boot takes ~10 s of CPU; on a 2-core machine shared with parallel builds it has taken 100 s.
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task BootsReportsDevicesRunsCommandsAndPowersOffOnAcpiButton()
    {
        await using RawQemuGuest vm = await RawQemuGuest.StartAsync(new RawQemuGuestOptions
        {
            CommandLine = ["vireo.hostname=guest-image-test", "vireo.dhcp=1"],
            DataDiskBytes = 64L << 20,
            Mac = "52:54:00:00:c0:01",
        });

        // The shared guest boots the PVH vmlinux (the xz-modules test covers the bzImage).
        TestGuest guest = await TestGuest.GetAsync();
        Assert.Equal(guest.UncompressedKernelPath, guest.KernelPath);
        await vm.Console.WaitForAsync("VIREO-GUEST-BOOTED", BootTimeout);
        await vm.Console.WaitForAsync("VIREO-GUEST-READY", BootTimeout);
        output.WriteLine($"boot to READY: {vm.SinceCont.Elapsed.TotalSeconds:0.00} s after cont, {vm.SinceProcessStart.Elapsed.TotalSeconds:0.00} s after exec");

        Assert.Equal("VIREO-DISKS vda:67108864", await vm.Console.WaitForLineAsync("VIREO-DISKS", BootTimeout));
        Assert.Equal("VIREO-NICS eth0:52:54:00:00:c0:01", await vm.Console.WaitForLineAsync("VIREO-NICS", BootTimeout));
        // QEMU's user-mode network has a DHCP server that hands out 10.0.2.15.
        Assert.Equal("VIREO-DHCP-OK eth0 10.0.2.15/24", await vm.Console.WaitForLineAsync("VIREO-DHCP-", BootTimeout));
        Assert.DoesNotContain("VIREO-MODULE-FAIL", vm.Console.Transcript, StringComparison.Ordinal);

        string cmdline = await vm.Console.RunAsync("cat /proc/cmdline", CommandTimeout);
        Assert.Contains("vireo.hostname=guest-image-test", cmdline, StringComparison.Ordinal);
        Assert.Contains("console=ttyS0", cmdline, StringComparison.Ordinal);
        Assert.Equal("guest-image-test", await vm.Console.RunAsync("hostname", CommandTimeout));
        Assert.Equal(new CommandResult(3, "a\nb"), await vm.Console.RunWithStatusAsync("printf 'a\\nb\\n'; (exit 3)", CommandTimeout));
        Assert.Equal("67108864", await vm.Console.RunAsync("echo $(( $(cat /sys/block/vda/size) * 512 ))", CommandTimeout));

        await vm.Qmp.ExecuteAsync("system_powerdown");
        await vm.Console.WaitForAsync("VIREO-GUEST-ACPI-POWEROFF", BootTimeout);
        Assert.Equal(0, await vm.WaitForExitAsync(BootTimeout));
        await vm.Qmp.Closed.WaitAsync(BootTimeout);
        Assert.Contains("SHUTDOWN", vm.Qmp.Events);
    }

    [Fact]
    public async Task PowersItselfOffAfterPingingWhenAsked()
    {
        // Static address on QEMU's user network; its gateway 10.0.2.2 answers pings.
        await using RawQemuGuest vm = await RawQemuGuest.StartAsync(new RawQemuGuestOptions
        {
            CommandLine = ["vireo.ip=10.0.2.20/24", "vireo.gw=10.0.2.2", "vireo.ping=10.0.2.2", "vireo.poweroff=1"],
            DataDiskBytes = 0,
        });

        await vm.Console.WaitForAsync("VIREO-GUEST-READY", BootTimeout);
        output.WriteLine($"boot to READY: {vm.SinceCont.Elapsed.TotalSeconds:0.00} s after cont");
        Assert.Equal("VIREO-DISKS", await vm.Console.WaitForLineAsync("VIREO-DISKS", BootTimeout));
        Assert.Equal("VIREO-PING-OK 10.0.2.2", await vm.Console.WaitForLineAsync("VIREO-PING-", BootTimeout));
        await vm.Console.WaitForAsync("VIREO-GUEST-POWEROFF", BootTimeout);
        Assert.Equal(0, await vm.WaitForExitAsync(BootTimeout));
        Assert.DoesNotContain("VIREO-GUEST-ACPI-POWEROFF", vm.Console.Transcript, StringComparison.Ordinal);
    }
}
