using System.Diagnostics;
using System.Globalization;
using Vireo.Integration.Guest;
using Vireo.Integration.Infrastructure;
using Xunit.Abstractions;

namespace Vireo.Integration.Tuning;

/// <summary>
/// &lt;memoryBacking&gt;&lt;hugepages/&gt; for real: the test reserves 2 MiB pages through sysfs (and mounts a private
/// hugetlbfs when none is mounted), proves a start with too few free pages is refused before QEMU runs, then boots
/// the guest from the pages and gives everything back.
/// </summary>
[Collection(HostPoolCollection.Name)]
public sealed class HugepageTests : IDisposable
{
    private const string Pool = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    private const int GuestMiB = 128;
    private const int GuestPages = GuestMiB / 2;
    private readonly VireoCli _vireo = new();
    private readonly TestGuest _guest = TestGuest.Get();
    private readonly ITestOutputHelper _out;
    private readonly long _originalPages = ReadLong($"{Pool}/nr_hugepages");
    private string? _mountedHere;

    public HugepageTests(ITestOutputHelper output) => _out = output;

    public void Dispose()
    {
        _vireo.Dispose();
        if (_mountedHere is not null)
        {
            Run("umount", _mountedHere);
            Directory.Delete(_mountedHere);
        }

        File.WriteAllText($"{Pool}/nr_hugepages", _originalPages.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task GuestBootsFromReservedHugepages_AndTooFewFreePagesIsRefusedBeforeQemu()
    {
        EnsureHugetlbfsMount();
        string sock = Path.Combine(_vireo.Root, "serial.sock");
        string xml = Path.Combine(_vireo.Root, "huge.xml");
        await File.WriteAllTextAsync(xml, TunedDomain.Xml(_guest, "huge", sock,
            "<vcpu>1</vcpu>\n  <memoryBacking><hugepages/></memoryBacking>", GuestMiB));
        (await _vireo.RunAsync("define", xml)).EnsureSuccess();

        // Too few: 10 free pages for a guest that needs 64.
        SetFreePages(10);
        var refused = await _vireo.RunAsync("start", "huge");
        _out.WriteLine(refused.Stderr);
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith($"error: <memoryBacking><hugepages>: the guest needs {GuestPages} pages of 2048 KiB, but only 10 are free", refused.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_vireo.RunDir("huge"), "qemu.log")), "QEMU was started although the pages were missing");
        Assert.Equal("shut off", (await _vireo.RunAsync("domstate", "huge")).EnsureSuccess().Stdout.Trim());

        // Enough: QEMU preallocates the guest's RAM from the pool, so the free count drops while it runs.
        long free = SetFreePages(GuestPages + 8);
        (await _vireo.RunAsync("start", "huge", "--paused")).EnsureSuccess();
        await using (var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(10)))
        {
            (await _vireo.RunAsync("resume", "huge")).EnsureSuccess();
            await console.WaitForAsync("VIREO-GUEST-READY", TimeSpan.FromSeconds(180));
            long running = Meminfo("HugePages_Free");
            _out.WriteLine($"HugePages_Free {free} -> {running} while the guest runs");
            Assert.True(free - running >= GuestPages, $"HugePages_Free went from {free} to {running}: the guest did not take {GuestPages} pages");
            Assert.Equal("vireo-guest", await console.RunAsync("hostname", TimeSpan.FromSeconds(30)));
        }

        (await _vireo.RunAsync("destroy", "huge")).EnsureSuccess();
        Assert.Equal(free, Meminfo("HugePages_Free"));
    }

    /// <summary>Sizes the 2 MiB pool so exactly <paramref name="wanted"/> pages are free (pages in use stay), and returns the free count.</summary>
    private static long SetFreePages(long wanted)
    {
        long used = Meminfo("HugePages_Total") - Meminfo("HugePages_Free");
        File.WriteAllText($"{Pool}/nr_hugepages", (used + wanted).ToString(CultureInfo.InvariantCulture));
        long free = Meminfo("HugePages_Free");
        Assert.True(free == wanted, $"the kernel gave {free} free 2 MiB pages, not {wanted} (memory too fragmented?)");
        return free;
    }

    /// <summary>Uses a 2 MiB hugetlbfs the host has, else mounts one at a private path (unmounted in Dispose).</summary>
    private void EnsureHugetlbfsMount()
    {
        foreach (string line in File.ReadLines("/proc/mounts"))
        {
            string[] f = line.Split(' ');
            if (f.Length > 3 && f[2] == "hugetlbfs" && (f[3].Contains("pagesize=2M", StringComparison.Ordinal) || !f[3].Contains("pagesize=", StringComparison.Ordinal)))
            {
                return;
            }
        }

        // Outside the state root, which is deleted while QEMU may still hold the mount.
        string dir = Directory.CreateTempSubdirectory("vireo-hugetlbfs-").FullName;
        Run("mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", dir);
        _mountedHere = dir;
    }

    private static long Meminfo(string key) =>
        long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private static long ReadLong(string path) => long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);

    private static void Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {err}");
    }
}
