using Vireo.Engine.Tuning;
using Vireo.Host;
using Vireo.Host.Discovery;
using Vireo.Host.Native;
using Vireo.Model;
using Vireo.Model.Domains;
using HostCpuSet = Vireo.Host.CpuSet;
using Vireo.Tests;

namespace Vireo.Engine.Tests.Tuning;

/// <summary>Validation against the two-socket fixture host from Vireo.Host.Tests, and real pinning of a test thread.</summary>
public sealed class DomainTunerTests
{
    private static readonly HostRoot Numa2 = new(Path.Combine(RepoPaths.Root, "tests", "Vireo.Host.Tests", "Fixtures", "numa2"));
    private static readonly HostFacts Facts = HostDiscovery.Discover(Numa2);

    private static DomainDefinition Domain(string inner, int vcpus = 2, string memory = "<memory unit='MiB'>1024</memory>", string vcpuAttrs = "") =>
        DomainDefinition.Parse($"""
            <domain type='qemu'>
              <name>tuned</name>
              {memory}
              <vcpu{vcpuAttrs}>{vcpus}</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type></os>
              {inner}
            </domain>
            """);

    [Fact]
    public void AcceptsPinsTheHostHasAndReportsHugetlbfsMounts()
    {
        var def = Domain("<iothreads>1</iothreads><cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3,11'/><emulatorpin cpuset='0-1'/><iothreadpin iothread='1' cpuset='8'/></cputune>"
            + "<memoryBacking><hugepages><page size='2' unit='MiB'/></hugepages></memoryBacking><numatune><memory mode='strict' nodeset='1'/></numatune>");
        var plan = DomainTuner.Validate(def, Facts, HugePages.Mounts(Numa2));
        Assert.Equal((2048L, 512L), plan.Hugepages);
        Assert.Equal("/dev/hugepages", plan.HugepageMounts[2048]);
        Assert.Null(plan.AutoNode);
    }

    [Theory]
    [InlineData("<cputune><vcpupin vcpu='0' cpuset='0-31'/></cputune>", "<cputune/vcpupin vcpu='0' cpuset='0-31'> names CPUs 16-31, which this host does not have (its online CPUs are 0-15)")]
    [InlineData("<cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='1'/><vcpupin vcpu='2' cpuset='1'/></cputune>", "<cputune> has 3 vcpupin elements but the domain has only 2 vCPUs")]
    [InlineData("<cputune><vcpupin vcpu='5' cpuset='1'/></cputune>", "pins vCPU 5, but the domain's vCPUs are 0-1")]
    [InlineData("<cputune><vcpupin vcpu='1' cpuset='1'/><vcpupin vcpu='1' cpuset='2'/></cputune>", "pins vCPU 1 a second time")]
    [InlineData("<cputune><emulatorpin cpuset='64'/></cputune>", "<cputune/emulatorpin cpuset='64'> names CPU 64")]
    [InlineData("<cputune><iothreadpin iothread='1' cpuset='1'/></cputune>", "names I/O thread 1, but the domain has no I/O threads")]
    [InlineData("<numatune><memory mode='strict' nodeset='0-3'/></numatune>", "<numatune/memory nodeset='0-3'> names NUMA nodes 2-3, which this host does not have (its nodes are 0-1)")]
    [InlineData("<numatune><memnode cellid='0' mode='strict' nodeset='7'/></numatune>", "names NUMA node 7")]
    [InlineData("<memoryBacking><hugepages><page size='16' unit='MiB'/></hugepages></memoryBacking>", "page size='16384' unit='KiB'> is not a hugepage size this host offers (it offers 2048 KiB, 1048576 KiB)")]
    public void RefusesWhatTheHostCannotHonour(string inner, string message)
    {
        var e = Assert.Throws<VireoException>(() => DomainTuner.Validate(Domain(inner), Facts, HugePages.Mounts(Numa2)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void RefusesTooFewFreeHugepagesOnTheBoundNode()
    {
        // 3 GiB of 1 GiB pages bound to node 1, which has 2 free.
        var def = Domain("<memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages></memoryBacking><numatune><memory mode='strict' nodeset='1'/></numatune>", memory: "<memory unit='GiB'>3</memory>");
        var e = Assert.Throws<VireoException>(() => DomainTuner.Validate(def, Facts, HugePages.Mounts(Numa2)));
        Assert.Equal(ErrorKind.HostUnavailable, e.Kind);
        Assert.Contains("needs 3 pages of 1048576 KiB on NUMA node(s) 1, but only 2 are free", e.Message);
        Assert.Contains("allocpages 1048576KiB 5 --cellno 1", e.Message);
    }

    [Fact]
    public void RefusesHugepagesWithoutAMount()
    {
        var def = Domain("<memoryBacking><hugepages/></memoryBacking>");
        var e = Assert.Throws<VireoException>(() => DomainTuner.Validate(def, Facts, []));
        Assert.Contains("needs a hugetlbfs mount with pagesize=2048K", e.Message);
    }

    [Fact]
    public void AutoPlacementChoosesTheNodeWithTheMostFreeMemory()
    {
        var plan = DomainTuner.Validate(Domain("", vcpuAttrs: " placement='auto'"), Facts);
        Assert.Equal(1, plan.AutoNode);
        Assert.Equal("4-7,12-15", plan.DefaultCpus!.ToString());

        // With 1 GiB hugepages, node 0 (4 free) beats node 1 (2 free) for a 3 GiB guest.
        var huge = Domain("<memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages></memoryBacking>", memory: "<memory unit='GiB'>3</memory>", vcpuAttrs: " placement='auto'");
        Assert.Equal(0, DomainTuner.Validate(huge, Facts, HugePages.Mounts(Numa2)).AutoNode);

        var tooBig = Domain("", memory: "<memory unit='GiB'>20</memory>", vcpuAttrs: " placement='auto'");
        var e = Assert.Throws<VireoException>(() => DomainTuner.Validate(tooBig, Facts));
        Assert.Contains("no NUMA node has 20971520 KiB free (free per node: 0: 12000000 KiB, 1: 14000000 KiB)", e.Message);
    }

    [Fact]
    public async Task ApplyPinsTheVcpuThreadItIsGiven()
    {
        var mine = Affinity.Get(0);
        int target = mine.Ids[^1];
        var def = Domain($"<cputune><vcpupin vcpu='1' cpuset='{target}'/></cputune>");
        using var ready = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        int tid = 0;
        var t = new Thread(() =>
        {
            tid = Affinity.CurrentThreadId();
            ready.Set();
            done.Wait();
        });
        t.Start();
        ready.Wait();
        try
        {
            await DomainTuner.ApplyAsync(def, new TuningPlan(), Environment.ProcessId, [(1, tid)], []);
            Assert.Equal(HostCpuSet.Of([target]), DomainTuner.AllowedCpus(Environment.ProcessId, tid));
            Assert.Equal(mine, Affinity.Get(0));
            await Assert.ThrowsAsync<VireoException>(async () => await DomainTuner.ApplyAsync(def, new TuningPlan(), Environment.ProcessId, [(1, int.MaxValue)], []));
        }
        finally
        {
            done.Set();
            t.Join();
        }
    }

    [Theory]
    [InlineData("iothread1", 1)]
    [InlineData("iothread12", 12)]
    [InlineData("io", null)]
    public void IoThreadIdsMapToTheirNumbers(string id, int? n) => Assert.Equal(n, DomainTuner.IoThreadNumber(id));
}
