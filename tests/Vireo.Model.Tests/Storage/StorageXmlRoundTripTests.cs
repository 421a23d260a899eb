using Vireo.Model.Storage;
using Vireo.Tests;

namespace Vireo.Model.Tests.Storage;

/// <summary>libvirt's storagepoolxml2xml and storagevolxml2xml pairs: parse the input, write, compare to the output.</summary>
public sealed class StorageXmlRoundTripTests
{
    private static string Corpus => RepoPaths.Libvirt("storagexml");

    public static TheoryData<string> PoolFiles() =>
        new(Directory.GetFiles(Path.Combine(Corpus, "storagepoolxml2xmlin"), "*.xml").Select(Path.GetFileName).Order()!);

    public static TheoryData<string> VolumeFiles() =>
        new(Directory.GetFiles(Path.Combine(Corpus, "storagevolxml2xmlin"), "*.xml").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(PoolFiles))]
    public void PoolRoundTrips(string file)
    {
        string input = File.ReadAllText(Path.Combine(Corpus, "storagepoolxml2xmlin", file));
        string expected = File.ReadAllText(Path.Combine(Corpus, "storagepoolxml2xmlout", file));
        var def = StoragePoolDefinition.Parse(input);
        Assert.Equal(expected, def.ToXml());
        // The output is itself input that reproduces itself.
        Assert.Equal(expected, StoragePoolDefinition.Parse(expected).ToXml());
    }

    [Theory]
    [MemberData(nameof(VolumeFiles))]
    public void VolumeRoundTrips(string file)
    {
        // libvirt's test parses vol-logical against a logical pool and the rest against a dir pool.
        var poolType = file.Contains("logical", StringComparison.Ordinal) ? StoragePoolType.Logical : StoragePoolType.Dir;
        string input = File.ReadAllText(Path.Combine(Corpus, "storagevolxml2xmlin", file));
        string expected = File.ReadAllText(Path.Combine(Corpus, "storagevolxml2xmlout", file));
        var def = StorageVolumeDefinition.Parse(input, poolType);
        Assert.Equal(expected, def.ToXml());
        Assert.Equal(expected, StorageVolumeDefinition.Parse(expected, poolType).ToXml());
    }

    [Theory]
    [InlineData("../evil")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("-rf")]
    public void HostileVolumeNamesAreRefused(string name)
    {
        string xml = $"<volume><name>{name}</name><capacity>1</capacity></volume>";
        var e = Assert.Throws<VireoException>(() => StorageVolumeDefinition.Parse(xml, StoragePoolType.Dir));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("storage volume name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HostilePoolNameIsRefused()
    {
        var e = Assert.Throws<VireoException>(() =>
            StoragePoolDefinition.Parse("<pool type='dir'><name>../../etc</name><target><path>/tmp/x</path></target></pool>"));
        Assert.Contains("storage pool name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DoctypeIsRefused()
    {
        string xml = "<!DOCTYPE pool [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><pool type='dir'><name>&x;</name></pool>";
        Assert.Throws<VireoException>(() => StoragePoolDefinition.Parse(xml));
    }

    [Fact]
    public void UnknownPoolTypeNamesTheType()
    {
        var e = Assert.Throws<VireoException>(() => StoragePoolDefinition.Parse("<pool type='zfs'><name>p</name></pool>"));
        Assert.Contains("'zfs'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LogicalPoolDefaultsVolumeGroupAndTarget()
    {
        var def = StoragePoolDefinition.Parse("<pool type='logical'><name>vg0</name></pool>");
        Assert.Equal("vg0", def.Source.Name);
        Assert.Equal("/dev/vg0", def.TargetPath);
        Assert.Equal("lvm2", def.Source.Format);
    }

    [Theory]
    [InlineData("10G", 10L << 30)]
    [InlineData("10GiB", 10L << 30)]
    [InlineData("10GB", 10_000_000_000L)]
    [InlineData("512M", 512L << 20)]
    [InlineData("4096", 4096L)]
    [InlineData("1k", 1024L)]
    [InlineData("3b", 3L)]
    public void SizesScaleAsVirsh(string text, long bytes) => Assert.Equal(bytes, StorageSize.ParseWithSuffix(text, "size"));

    [Theory]
    [InlineData("10X")]
    [InlineData("G")]
    [InlineData("-1")]
    [InlineData("99999999999E")]
    public void BadSizesAreRefused(string text) => Assert.Throws<VireoException>(() => StorageSize.ParseWithSuffix(text, "size"));
}
