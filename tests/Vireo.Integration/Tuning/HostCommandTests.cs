using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vireo.Integration.Infrastructure;
using Vireo.Tests;

namespace Vireo.Integration.Tuning;

/// <summary>
/// The host commands through the real binary: on this machine their XML validates against libvirt's schemas and
/// their JSON agrees with sysfs read here independently; on the two-socket fixture (VIREO_HOST_ROOT) they print
/// exactly what virsh would on such a host.
/// </summary>
[Collection(HostPoolCollection.Name)]
public sealed partial class HostCommandTests : IDisposable
{
    private static readonly string Fixtures = Path.Combine(RepoPaths.Root, "tests", "Vireo.Host.Tests", "Fixtures");
    private static readonly string Schemas = RepoPaths.Libvirt("schemas");
    private readonly string _state = Directory.CreateTempSubdirectory("vireo-host-it-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public async Task CapabilitiesOfThisHost_ValidateAndMatchSysfs()
    {
        string xml = await Ok("capabilities");
        Validate(xml, "capability.rng");
        var nodes = NodeIds();
        Assert.Contains($"<cells num='{nodes.Count}'>", xml, StringComparison.Ordinal);
        var online = KernelList(File.ReadAllText("/sys/devices/system/cpu/online"));
        Assert.Equal(online, CpuIdRegex().Matches(xml).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Order());

        var host = JsonDocument.Parse(await Ok("capabilities", "--json")).RootElement.GetProperty("host");
        Assert.Equal(nodes, host.GetProperty("cells").EnumerateArray().Select(c => c.GetProperty("id").GetInt32()));
        var pci = Directory.GetFileSystemEntries("/sys/bus/pci/devices").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(pci, host.GetProperty("pciDevices").EnumerateArray().Select(p => p.GetProperty("address").GetString()));
        foreach (var p in host.GetProperty("pciDevices").EnumerateArray())
        {
            string addr = p.GetProperty("address").GetString()!;
            Assert.Equal(File.ReadAllText($"/sys/bus/pci/devices/{addr}/vendor").Trim(), p.GetProperty("vendor").GetString());
        }

        var listed = JsonDocument.Parse(await Ok("nodedev-list", "--cap", "pci", "--json")).RootElement;
        Assert.Equal(pci.Select(a => "pci_" + a!.Replace(':', '_').Replace('.', '_')), listed.EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        foreach (string name in listed.EnumerateArray().Select(d => d.GetProperty("name").GetString()!).Take(3))
        {
            Validate(await Ok("nodedev-dumpxml", name), "nodedev.rng");
        }
    }

    [Fact]
    public async Task DomCapabilities_ValidateForEachMachineAndReportQemusCpuMax()
    {
        Validate(await Ok("domcapabilities"), "domaincaps.rng");
        string q35 = await Ok("domcapabilities", "--machine", "q35");
        Validate(q35, "domaincaps.rng");

        // cpu-max as QEMU reports it in query-machines: pc 255, q35 288 on QEMU 7.2 (Debian 12).
        var max = JsonDocument.Parse(await Ok("maxvcpus", "--machine", "q35", "--json")).RootElement;
        Assert.StartsWith("pc-q35-", max.GetProperty("machine").GetString(), StringComparison.Ordinal);
        int cpuMax = max.GetProperty("maxVcpus").GetInt32();
        Assert.True(cpuMax >= 255, $"q35 cpu-max {cpuMax}");
        Assert.Contains($"<vcpu max='{cpuMax}'/>", q35, StringComparison.Ordinal);
        Assert.Equal("255", (await Ok("maxvcpus", "--machine", "pc")).Trim());
        var bad = await Run(null, "maxvcpus", "--machine", "no-such-machine");
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("error: machine type 'no-such-machine' is not offered by", bad.Stderr, StringComparison.Ordinal);

        var models = JsonDocument.Parse(await Ok("cpu-models", "x86_64", "--json")).RootElement.EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("qemu64", models);
        Assert.Contains("Skylake-Server", models);
        Assert.Contains("<model usable='", q35, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeQueriesOfThisHost_JsonAgreesWithSysfs()
    {
        var info = JsonDocument.Parse(await Ok("nodeinfo", "--json")).RootElement;
        Assert.Equal(Environment.ProcessorCount, info.GetProperty("cpus").GetInt32());
        Assert.Equal(NodeIds().Count, info.GetProperty("numaCells").GetInt32());
        Assert.Equal(Meminfo("/proc/meminfo", "MemTotal"), info.GetProperty("memoryKiB").GetInt64());

        // Free memory moves while we look (other tests boot guests and reserve hugepages): the answer must lie
        // between sysfs read just before and just after, give or take 64 MiB.
        var nodes = NodeIds();
        var before = nodes.Select(id => Meminfo($"/sys/devices/system/node/node{id}/meminfo", $"Node {id} MemFree")).ToList();
        var cells = JsonDocument.Parse(await Ok("freecell", "--all", "--json")).RootElement;
        var after = nodes.Select(id => Meminfo($"/sys/devices/system/node/node{id}/meminfo", $"Node {id} MemFree")).ToList();
        foreach (var c in cells.GetProperty("cells").EnumerateArray())
        {
            int i = nodes.IndexOf(c.GetProperty("cell").GetInt32());
            Assert.InRange(c.GetProperty("freeKiB").GetInt64(), Math.Min(before[i], after[i]) - 65536, Math.Max(before[i], after[i]) + 65536);
        }

        var pages = JsonDocument.Parse(await Ok("freepages", "--all", "--json")).RootElement;
        foreach (var c in pages.EnumerateArray())
        {
            int id = c.GetProperty("cell").GetInt32();
            foreach (var p in c.GetProperty("pages").EnumerateArray())
            {
                long size = p.GetProperty("sizeKiB").GetInt64();
                if (size == 4)
                {
                    continue;
                }

                long free = long.Parse(File.ReadAllText($"/sys/devices/system/node/node{id}/hugepages/hugepages-{size}kB/free_hugepages").Trim(), CultureInfo.InvariantCulture);
                Assert.Equal(free, p.GetProperty("free").GetInt64());
            }
        }

        var max = JsonDocument.Parse(await Ok("maxvcpus", "--json")).RootElement;
        Assert.Equal("qemu", max.GetProperty("type").GetString());
        Assert.Equal(255, max.GetProperty("maxVcpus").GetInt32());
    }

    [Fact]
    public async Task TwoSocketFixture_PrintsWhatVirshWouldOnSuchAHost()
    {
        string root = Path.Combine(Fixtures, "numa2");
        Assert.Equal("""
            CPU model:           x86_64
            CPU(s):              16
            CPU frequency:       2100 MHz
            CPU socket(s):       1
            Core(s) per socket:  4
            Thread(s) per core:  2
            NUMA cell(s):        2
            Memory size:         33554432 KiB


            """, await OnFixture(root, "nodeinfo"));
        Assert.Equal("""
                0:   12000000 KiB
                1:   14000000 KiB
            --------------------
            Total:   26000000 KiB

            """, await OnFixture(root, "freecell", "--all"));
        Assert.Equal("Total: 26000000 KiB\n", await OnFixture(root, "freecell"));
        Assert.Equal("1: 14000000 KiB\n", await OnFixture(root, "freecell", "--cellno", "1"));
        Assert.Equal("""
            Node 0:
            4KiB: 3000000
            2048KiB: 256
            1048576KiB: 4

            Node 1:
            4KiB: 3500000
            2048KiB: 512
            1048576KiB: 2


            """, await OnFixture(root, "freepages", "--all"));
        Assert.Equal("1048576KiB: 2\n", await OnFixture(root, "freepages", "--cellno", "1", "--pagesize", "1G"));

        // SR-IOV: the PF lists its VFs, each VF names its PF; the golden files are the library tests' own.
        Assert.Equal(File.ReadAllText(Path.Combine(Fixtures, "expected", "numa2.nodedev-list.txt")).Split('\n')[..16].Select(l => l.Split(' ')[0]),
            (await OnFixture(root, "nodedev-list")).Split('\n')[..16]);
        foreach (string dev in (string[])["pci_0000_3b_00_0", "pci_0000_3b_10_2", "net_ens1f0_a0_36_9f_11_22_30"])
        {
            string xml = await OnFixture(root, "nodedev-dumpxml", dev);
            Assert.Equal(File.ReadAllText(Path.Combine(Fixtures, "expected", $"numa2.{dev}.xml")), xml);
            Validate(xml, "nodedev.rng");
        }

        Assert.Equal("""
            pci_0000_00_00_0
            pci_0000_00_17_0
            pci_0000_3a_00_0
            pci_0000_3b_00_0
            pci_0000_3b_00_1
            pci_0000_3b_10_0
            pci_0000_3b_10_2
            pci_0000_ae_00_0
            pci_0000_af_00_0


            """, await OnFixture(root, "nodedev-list", "--cap", "pci"));

        string caps = await OnFixture(root, "capabilities");
        Validate(caps, "capability.rng");
        Assert.Contains("<cells num='2'>", caps, StringComparison.Ordinal);
        Assert.Equal(16, CpuIdRegex().Matches(caps).Count);
        var cells = JsonDocument.Parse(await OnFixture(root, "capabilities", "--json")).RootElement.GetProperty("host").GetProperty("cells");
        Assert.Equal(["0-3,8-11", "4-7,12-15"], cells.EnumerateArray().Select(c => c.GetProperty("cpus").GetString()));

        var bad = await Run(root, "freepages", "--cellno", "5", "--pagesize", "2M");
        Assert.Equal(1, bad.ExitCode);
        Assert.StartsWith("error: ", bad.Stderr, StringComparison.Ordinal);
        Assert.Contains("5", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllocPagesOnACopyOfTheFixture_WritesThePoolFilesAndRefusesWhatTheHostLacks()
    {
        // A copy (symlinks kept, as sysfs has them), since allocpages writes nr_hugepages.
        string root = Path.Combine(_state, "numa2");
        using (var cp = Process.Start("cp", ["-a", Path.Combine(Fixtures, "numa2"), root]))
        {
            await cp.WaitForExitAsync();
            Assert.Equal(0, cp.ExitCode);
        }

        string Pool(string node, string size) => File.ReadAllText(Path.Combine(root, $"sys/devices/system/{node}/hugepages/hugepages-{size}kB/nr_hugepages")).Trim();
        Assert.Equal("", await OnFixture(root, "allocpages", "2M", "300", "--cellno", "1"));
        Assert.Equal("300", Pool("node/node1", "2048"));
        var added = JsonDocument.Parse(await OnFixture(root, "allocpages", "1G", "1", "--add", "--cellno", "0", "--json")).RootElement;
        Assert.Equal(5, added[0].GetProperty("pages").GetInt64());
        Assert.Equal("5", Pool("node/node0", "1048576"));
        await OnFixture(root, "allocpages", "2048", "0", "--all");
        Assert.Equal("0", Pool("node/node0", "2048"));
        Assert.Equal("0", Pool("node/node1", "2048"));

        var bad = await Run(root, "allocpages", "16M", "1");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("error: page size 16384 KiB is not offered by this host (it offers 4 KiB, 2048 KiB, 1048576 KiB)", bad.Stderr.Trim());
        bad = await Run(root, "allocpages", "2M", "1", "--cellno", "9");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("error: NUMA cell 9 does not exist on this host (cells: 0-1)", bad.Stderr.Trim());
        Assert.Equal("0", Pool("node/node1", "2048"));
    }

    [GeneratedRegex("<cpu id='(\\d+)'")]
    private static partial Regex CpuIdRegex();

    private static List<int> NodeIds() => Directory.Exists("/sys/devices/system/node")
        ? [.. Directory.GetDirectories("/sys/devices/system/node", "node*").Select(d => int.Parse(Path.GetFileName(d)[4..], CultureInfo.InvariantCulture)).Order()]
        : [0];

    private static List<int> KernelList(string text)
    {
        var ids = new List<int>();
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] r = part.Split('-');
            int a = int.Parse(r[0], CultureInfo.InvariantCulture);
            int b = r.Length > 1 ? int.Parse(r[1], CultureInfo.InvariantCulture) : a;
            ids.AddRange(Enumerable.Range(a, b - a + 1));
        }

        return ids;
    }

    private static long Meminfo(string file, string key) =>
        long.Parse(File.ReadLines(file).First(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private static void Validate(string xml, string schema)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, xml);
            var psi = new ProcessStartInfo("xmllint") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in (string[])["--noout", "--relaxng", Path.Combine(Schemas, schema), file])
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            string output = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"{schema}: {output}\n{xml}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private Task<string> Ok(params string[] args) => OnFixture(null, args);

    private async Task<string> OnFixture(string? hostRoot, params string[] args)
    {
        var r = await Run(hostRoot, args);
        Assert.True(r.ExitCode == 0, $"vireo {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    private async Task<CliResult> Run(string? hostRoot, params string[] args)
    {
        var psi = new ProcessStartInfo(VireoCli.BinaryPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["VIREO_ROOT"] = _state;
        if (hostRoot is not null)
        {
            psi.Environment["VIREO_HOST_ROOT"] = hostRoot;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return new CliResult(p.ExitCode, await stdout, await stderr);
    }
}
