using Vireo.Host.Native;
using Vireo.Model;

namespace Vireo.Host.Tests;

public sealed class CpuSetTests
{
    [Theory]
    [InlineData("0-3,^2,8", "0-1,3,8")]
    [InlineData("0", "0")]
    [InlineData(" 1 , 3-5 ", "1,3-5")]
    [InlineData("0-7,^0-3", "4-7")]
    [InlineData("5,4,3", "3-5")]
    public void ParsesAndFormats(string text, string formatted)
    {
        Assert.Equal(formatted, CpuSet.Parse(text).ToString());
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("a", "'a', which is not a CPU number")]
    [InlineData("3-1", "backwards range '3-1'")]
    [InlineData("1,,2", "empty element")]
    [InlineData("^1", "selects no CPU")]
    [InlineData("0-1,^0-1", "selects no CPU")]
    [InlineData("99999", "beyond the largest")]
    [InlineData("-1", "not a CPU number")]
    public void RejectsBadInputNamingTheField(string text, string reason)
    {
        var e = Assert.Throws<VireoException>(() => CpuSet.Parse(text, "vcpupin cpuset"));
        Assert.StartsWith("vcpupin cpuset", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void ParsesKernelMasks()
    {
        Assert.Equal("0-3,32", CpuSet.ParseMask("00000001,0000000f").ToString());
        Assert.Equal("y-y-", CpuSet.Parse("0,2").ToAffinityString(4));
    }

    [Fact]
    public void AffinityRoundTripOnATestThread()
    {
        var allowed = Affinity.Get(0);
        Assert.False(allowed.IsEmpty);
        CpuSet got = CpuSet.Empty;
        int tid = 0;
        var t = new Thread(() =>
        {
            tid = Affinity.CurrentThreadId();
            Affinity.Set(0, CpuSet.Of([allowed.Ids[^1]]));
            got = Affinity.Get(0);
        });
        t.Start();
        t.Join();
        Assert.NotEqual(Environment.ProcessId, tid);
        Assert.Equal(CpuSet.Of([allowed.Ids[^1]]), got);
        // The pin was per thread: this thread keeps its mask.
        Assert.Equal(allowed, Affinity.Get(0));
    }

    [Fact]
    public void PinningToAMissingCpuFails()
    {
        var e = Assert.Throws<VireoException>(() => Affinity.Set(Affinity.CurrentThreadId(), CpuSet.Of([CpuSet.MaxId])));
        Assert.Contains("sched_setaffinity", e.Message);
    }
}
