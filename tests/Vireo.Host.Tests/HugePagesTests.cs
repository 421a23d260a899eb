using Vireo.Model;

namespace Vireo.Host.Tests;

public sealed class HugePagesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"vireo-host-hp-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void AllocatesPerNodeOrAdds()
    {
        var root = TestPaths.CopyFixture("numa2", _dir);
        Assert.Equal(600, HugePages.Allocate(root, 2048, 600, 1, add: false));
        Assert.Equal(610, HugePages.Allocate(root, 2048, 10, 1, add: true));
        Assert.Equal(9, HugePages.Allocate(root, 1048576, 1, null, add: true));
    }

    [Fact]
    public void RefusesASizeOrCellTheHostLacks()
    {
        var root = TestPaths.CopyFixture("small", _dir);
        var e = Assert.Throws<VireoException>(() => HugePages.Allocate(root, 1048576, 1, null, add: false));
        Assert.Contains("page size 1048576 KiB is not a hugepage size this host offers (it offers 2048 KiB)", e.Message);
        e = Assert.Throws<VireoException>(() => HugePages.Allocate(root, 2048, 1, 3, add: false));
        Assert.Contains("NUMA cell 3 does not exist", e.Message);
        Assert.Throws<VireoException>(() => HugePages.Allocate(root, 2048, -1, null, add: false));
    }

    [Theory]
    [InlineData("2M", 2048L)]
    [InlineData("1G", 1048576L)]
    [InlineData("2048", 2048L)]
    [InlineData("2048KiB", 2048L)]
    [InlineData("x", null)]
    [InlineData("0", null)]
    public void ParsesSizes(string text, long? kib) => Assert.Equal(kib, HugePages.ParseSize(text));
}
