using System.Diagnostics;

namespace Vireo.Integration.Guest;

/// <summary>
/// guest/build-guest.sh must never produce a broken guest: it fails loudly when a package is missing,
/// skips work when up to date, and builds a bootable guest from compressed modules too.
/// </summary>
public sealed class BuildScriptTests : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(240);

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("vireo-guest-build-");
    private readonly string _root = TestGuest.FindRepoRoot();

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task MissingBusyboxFailsWithTheAptCommand()
    {
        string outDir = Path.Combine(_dir.FullName, "out");
        BuildResult result = await TestGuest.RunBuildScriptAsync(_root, outDir,
            new Dictionary<string, string> { ["BUSYBOX"] = Path.Combine(_dir.FullName, "no-busybox") });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("apt-get install -y busybox-static", result.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(outDir, "initrd.img")));
    }

    [Fact]
    public async Task DynamicBusyboxIsRefused()
    {
        // Any dynamically linked program stands in for Debian's non-static busybox package.
        BuildResult result = await TestGuest.RunBuildScriptAsync(_root, Path.Combine(_dir.FullName, "out"),
            new Dictionary<string, string> { ["BUSYBOX"] = "/bin/ls" });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("dynamically linked", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingKernelFailsWithTheAptCommand()
    {
        string sysroot = Directory.CreateDirectory(Path.Combine(_dir.FullName, "sysroot")).FullName;
        Directory.CreateDirectory(Path.Combine(sysroot, "boot"));
        BuildResult result = await TestGuest.RunBuildScriptAsync(_root, Path.Combine(_dir.FullName, "out"),
            new Dictionary<string, string> { ["VIREO_GUEST_SYSROOT"] = sysroot });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("apt-get install -y linux-image-amd64", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task XzCompressedModulesGiveAGuestThatBoots()
    {
        // A copy of this machine's module tree with the guest's modules as .ko.xz, as newer Debian
        // kernels ship them.
        TestGuest shared = await TestGuest.GetAsync();
        string[] manifest = await File.ReadAllLinesAsync(Path.Combine(shared.OutDir, "manifest"));
        string kernelVersion = manifest[0].Split(' ')[0]["kernel=".Length..];
        // Boot-time modules, and on-demand ones with their chains ("e1000: e1000 8139cp: mii 8139cp").
        string[] modules = [.. manifest
            .Where(l => l.StartsWith("modules=", StringComparison.Ordinal) || l.StartsWith("ondemand=", StringComparison.Ordinal))
            .SelectMany(l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(m => !m.EndsWith(':'))
            .Distinct()];
        string sysroot = Path.Combine(_dir.FullName, "sysroot");
        await RunAsync("/bin/bash", ["-euc", """
            root=$1 kver=$2; shift 2
            mkdir -p "$root/boot" "$root/lib/modules/$kver"
            ln -s "/boot/vmlinuz-$kver" "$root/boot/vmlinuz-$kver"
            cp /lib/modules/"$kver"/modules.builtin* /lib/modules/"$kver"/modules.order "$root/lib/modules/$kver/"
            for m in "$@"; do
              f=$(modinfo -k "$kver" -F filename "$m")
              mkdir -p "$root${f%/*}"
              xz -c "$f" >"$root$f.xz"
            done
            depmod -b "$root" "$kver"
            """, "make-sysroot", sysroot, kernelVersion, .. modules]);

        string outDir = Path.Combine(_dir.FullName, "out");
        var environment = new Dictionary<string, string> { ["VIREO_GUEST_SYSROOT"] = sysroot };
        TestGuest guest = await TestGuest.BuildAsync(outDir, environment);
        DateTime built = File.GetLastWriteTimeUtc(guest.InitrdPath);
        BuildResult again = await TestGuest.RunBuildScriptAsync(_root, outDir, environment);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("up to date", again.Output, StringComparison.Ordinal);
        Assert.Equal(built, File.GetLastWriteTimeUtc(guest.InitrdPath));

        // The sysroot has no kernel config, so no PVH vmlinux: this boot covers the bzImage path.
        Assert.Equal(guest.CompressedKernelPath, guest.KernelPath);
        await using RawQemuGuest vm = await RawQemuGuest.StartAsync(new RawQemuGuestOptions
        {
            Guest = guest,
            CommandLine = ["vireo.modules=e1000", "vireo.poweroff=1"],
            DataDiskBytes = 1 << 20,
        });
        await vm.Console.WaitForAsync("VIREO-GUEST-READY", BootTimeout);
        Assert.Equal("VIREO-DISKS vda:1048576", await vm.Console.WaitForLineAsync("VIREO-DISKS", BootTimeout));
        Assert.Equal("VIREO-NICS eth0:52:54:00:12:34:56", await vm.Console.WaitForLineAsync("VIREO-NICS", BootTimeout));
        Assert.DoesNotContain("VIREO-MODULE-FAIL", vm.Console.Transcript, StringComparison.Ordinal);
        Assert.Equal(0, await vm.WaitForExitAsync(BootTimeout));
        Assert.Contains("VIREO-GUEST-POWEROFF", vm.Console.Transcript, StringComparison.Ordinal);
    }

    private static async Task RunAsync(string program, string[] args)
    {
        var start = new ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} failed ({process.ExitCode}):\n{await stdout}{stderr}");
    }
}
