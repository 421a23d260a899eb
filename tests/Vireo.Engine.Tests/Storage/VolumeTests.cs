using Vireo.Engine.Storage;
using Vireo.Images;
using Vireo.Model;

namespace Vireo.Engine.Tests.Storage;

public sealed class VolumeTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly StorageRoot _r = new();
    private readonly string _target;

    public VolumeTests() => _target = _r.DirPool();

    public void Dispose() => _r.Dispose();

    private StoragePoolManager M => _r.Manager;

    [Fact]
    public void CreateAsRawIsSparseUnlessAllocationIsAsked()
    {
        var sparse = M.CreateVolume("p1", new VolumeCreateRequest { Name = "s.img", Capacity = 64 * MiB, Allocation = 0 });
        Assert.Equal("raw", sparse.Format);
        Assert.Equal(64 * MiB, sparse.Capacity);
        Assert.True(sparse.Allocation < MiB);
        var full = M.CreateVolume("p1", new VolumeCreateRequest { Name = "f.img", Capacity = 8 * MiB });
        Assert.True(full.Allocation >= 8 * MiB);
        var part = M.CreateVolume("p1", new VolumeCreateRequest { Name = "p.img", Capacity = 8 * MiB, Allocation = 2 * MiB });
        Assert.InRange(part.Allocation, 2 * MiB, 3 * MiB);
        Assert.Equal(["f.img", "p.img", "s.img"], M.ListVolumes("p1").Select(v => v.Name));
    }

    [Fact]
    public void CreateAsQcow2WithPreallocatedMetadataAndOverlay()
    {
        var baseVol = M.CreateVolume("p1", new VolumeCreateRequest { Name = "base.qcow2", Capacity = 32 * MiB, Format = "qcow2", PreallocMetadata = true });
        Assert.Equal("qcow2", baseVol.Format);
        Assert.Equal(32 * MiB, baseVol.Capacity);
        Assert.Equal("1.1", baseVol.Compat);
        var overlay = M.CreateVolume("p1", new VolumeCreateRequest { Name = "top.qcow2", Capacity = 32 * MiB, Format = "qcow2", BackingVolume = "base.qcow2" });
        Assert.Equal(baseVol.Path, overlay.BackingPath);
        Assert.Equal("qcow2", overlay.BackingFormat);
        string xml = M.VolumeXml(overlay);
        Assert.Contains($"<backingStore>\n    <path>{baseVol.Path}</path>\n    <format type='qcow2'/>", xml, StringComparison.Ordinal);
        Assert.Contains("<format type='qcow2'/>", xml, StringComparison.Ordinal);

        // Lookups by name with the pool, by path, by key.
        Assert.Equal("top.qcow2", M.FindVolume(overlay.Path, null).Name);
        Assert.Equal("top.qcow2", M.FindVolume(overlay.Key, "p1").Name);
        Assert.Equal("p1", M.FindVolume("top.qcow2", "p1").Pool);
    }

    [Fact]
    public void CreateFromXmlHonoursFormatCapacityAndBacking()
    {
        var b = M.CreateVolume("p1", new VolumeCreateRequest { Name = "b.img", Capacity = 4 * MiB });
        var v = M.CreateVolume("p1", $"""
            <volume>
              <name>x.qcow2</name>
              <capacity unit='M'>4</capacity>
              <target><format type='qcow2'/><compat>0.10</compat></target>
              <backingStore><path>{b.Path}</path><format type='raw'/></backingStore>
            </volume>
            """);
        Assert.Equal("qcow2", v.Format);
        Assert.Equal("0.10", v.Compat);
        Assert.Equal(b.Path, v.BackingPath);
        Assert.Equal("raw", v.BackingFormat);
    }

    [Theory]
    [InlineData("../escape.img")]
    [InlineData("a/b.img")]
    [InlineData("..")]
    [InlineData("")]
    public void HostileNamesAreRefusedAndNothingIsWritten(string name)
    {
        var before = Directory.GetFileSystemEntries(_r.Dir, "*", SearchOption.AllDirectories).Order().ToList();
        var e = Assert.Throws<VireoException>(() => M.CreateVolume("p1", new VolumeCreateRequest { Name = name, Capacity = MiB }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("'p1'", e.Message, StringComparison.Ordinal);
        Assert.Throws<VireoException>(() => M.CreateVolume("p1", $"<volume><name>{name}</name><capacity>1</capacity></volume>"));
        Assert.Equal(before, Directory.GetFileSystemEntries(_r.Dir, "*", SearchOption.AllDirectories).Order().ToList());
    }

    [Fact]
    public void ExistingVolumeAndPlantedSymlinkAreNotOverwritten()
    {
        M.CreateVolume("p1", new VolumeCreateRequest { Name = "a.img", Capacity = MiB });
        var e = Assert.Throws<VireoException>(() => M.CreateVolume("p1", new VolumeCreateRequest { Name = "a.img", Capacity = MiB }));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        string outside = Path.Combine(_r.Dir, "outside.txt");
        File.WriteAllText(outside, "keep");
        File.CreateSymbolicLink(Path.Combine(_target, "link.img"), outside);
        Assert.Throws<VireoException>(() => M.CreateVolume("p1", new VolumeCreateRequest { Name = "link.img", Capacity = MiB }));
        Assert.Equal("keep", File.ReadAllText(outside));
        // A symlink is not a volume: it could point anywhere on the host.
        Assert.DoesNotContain(M.ListVolumes("p1"), v => v.Name == "link.img");
    }

    [Fact]
    public async Task CloneAndCreateFromCopyTheData()
    {
        var src = M.CreateVolume("p1", new VolumeCreateRequest { Name = "src.qcow2", Capacity = 8 * MiB, Format = "qcow2" });
        byte[] data = Pattern(MiB, 7);
        await using (var img = DiskImage.Open(src.Path))
        {
            await img.WriteAsync(3 * MiB, data);
        }

        var clone = await M.CloneVolumeAsync(src, "clone.qcow2");
        Assert.Equal("qcow2", clone.Format);
        Assert.Equal(src.Capacity, clone.Capacity);
        Assert.Equal(data, await ReadGuest(clone.Path, 3 * MiB, (int)MiB));

        var raw = await M.CreateVolumeFromAsync("p1", "<volume><name>flat.img</name><capacity unit='M'>16</capacity><target><format type='raw'/></target></volume>", src);
        Assert.Equal("raw", raw.Format);
        Assert.Equal(16 * MiB, raw.Capacity);
        Assert.Equal(data, await ReadGuest(raw.Path, 3 * MiB, (int)MiB));
        Assert.True(raw.Allocation < 4 * MiB, "zeroes of the source stay holes");

        var e = await Assert.ThrowsAsync<VireoException>(() => M.CloneVolumeAsync(src, "clone.qcow2"));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
    }

    [Fact]
    public async Task CloneOfASelfContainedImageIsAnExtentCopy_HolesStayHoles()
    {
        // A qcow2 with no backing file is cloned file for file: the clone is byte-identical to its source.
        var q = M.CreateVolume("p1", new VolumeCreateRequest { Name = "gold.qcow2", Capacity = 64 * MiB, Format = "qcow2" });
        await using (var img = DiskImage.Open(q.Path))
        {
            await img.WriteAsync(5 * MiB, Pattern(MiB, 3));
        }

        var qc = await M.CloneVolumeAsync(q, "gold-copy.qcow2");
        Assert.Equal(File.ReadAllBytes(q.Path), File.ReadAllBytes(qc.Path));

        // A raw volume keeps its holes: only the written MiB is allocated in the clone.
        var r = M.CreateVolume("p1", new VolumeCreateRequest { Name = "sparse.img", Capacity = 64 * MiB, Format = "raw", Allocation = 0 });
        await using (var fs = new FileStream(r.Path, FileMode.Open, FileAccess.Write))
        {
            fs.Position = 40 * MiB;
            await fs.WriteAsync(Pattern(MiB, 9));
        }

        var rc = await M.CloneVolumeAsync(r, "sparse-copy.img");
        Assert.Equal(64 * MiB, new FileInfo(rc.Path).Length);
        Assert.Equal(File.ReadAllBytes(r.Path), File.ReadAllBytes(rc.Path));
        Assert.True(rc.Allocation <= 2 * MiB, $"the clone allocated {rc.Allocation} bytes for 1 MiB of data");

        // An overlay depends on its backing file: its clone is a flattened, standalone image.
        var o = M.CreateVolume("p1", new VolumeCreateRequest { Name = "over.qcow2", Capacity = 64 * MiB, Format = "qcow2", BackingVolume = "gold.qcow2" });
        var oc = await M.CloneVolumeAsync(o, "over-copy.qcow2");
        Assert.Null(DiskImage.Inspect(oc.Path).BackingFile);
        Assert.Equal(Pattern(MiB, 3), await ReadGuest(oc.Path, 5 * MiB, (int)MiB));
    }

    [Fact]
    public void ResizeGrowsShrinksOnlyWhenAskedAndTakesDeltas()
    {
        var v = M.CreateVolume("p1", new VolumeCreateRequest { Name = "r.qcow2", Capacity = 8 * MiB, Format = "qcow2" });
        v = M.ResizeVolume(v, 16 * MiB, delta: false, shrink: false);
        Assert.Equal(16 * MiB, v.Capacity);
        v = M.ResizeVolume(v, 4 * MiB, delta: true, shrink: false);
        Assert.Equal(20 * MiB, v.Capacity);
        var e = Assert.Throws<VireoException>(() => M.ResizeVolume(v, 4 * MiB, delta: false, shrink: false));
        Assert.Contains("--shrink", e.Message, StringComparison.Ordinal);
        Assert.Contains("'r.qcow2'", e.Message, StringComparison.Ordinal);
        v = M.ResizeVolume(v, 4 * MiB, delta: true, shrink: true);
        Assert.Equal(16 * MiB, v.Capacity);
        var raw = M.CreateVolume("p1", new VolumeCreateRequest { Name = "r.img", Capacity = 8 * MiB, Allocation = 0 });
        raw = M.ResizeVolume(raw, 2 * MiB, delta: false, shrink: true);
        Assert.Equal(2 * MiB, raw.Capacity);
    }

    [Fact]
    public async Task VolumesInUseAreNotDeletedWipedOrShrunk()
    {
        var b = M.CreateVolume("p1", new VolumeCreateRequest { Name = "base.qcow2", Capacity = 4 * MiB, Format = "qcow2" });
        var top = M.CreateVolume("p1", new VolumeCreateRequest { Name = "top.qcow2", Capacity = 4 * MiB, Format = "qcow2", BackingVolume = "base.qcow2" });
        _r.Usage.Paths.Add(("web1", top.Path));
        var e = Assert.Throws<VireoException>(() => M.DeleteVolume(top));
        Assert.Contains("'web1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'top.qcow2'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'p1'", e.Message, StringComparison.Ordinal);
        // The base is in use through the overlay's backing chain.
        e = Assert.Throws<VireoException>(() => M.DeleteVolume(b));
        Assert.Contains("'base.qcow2'", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<VireoException>(() => M.WipeVolumeAsync(top));
        Assert.Throws<VireoException>(() => M.ResizeVolume(top, MiB, false, true));
        Assert.True(File.Exists(top.Path));
        _r.Usage.Paths.Clear();
        M.DeleteVolume(top);
        M.DeleteVolume(b);
        Assert.Empty(M.ListVolumes("p1"));
    }

    [Fact]
    public async Task WipeMakesEveryByteZero()
    {
        var v = M.CreateVolume("p1", new VolumeCreateRequest { Name = "w.qcow2", Capacity = 4 * MiB, Format = "qcow2" });
        await using (var img = DiskImage.Open(v.Path))
        {
            await img.WriteAsync(MiB, Pattern(MiB, 3));
        }

        await M.WipeVolumeAsync(v);
        Assert.Equal(new byte[4 * MiB], await ReadGuest(v.Path, 0, (int)(4 * MiB)));
        var e = await Assert.ThrowsAsync<VireoException>(() => M.WipeVolumeAsync(v, "dod"));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
    }

    [Fact]
    public async Task UploadAndDownloadRoundTripWithOffsetLengthAndSparseness()
    {
        var v = M.CreateVolume("p1", new VolumeCreateRequest { Name = "u.img", Capacity = 8 * MiB, Allocation = 0 });
        byte[] data = new byte[6 * MiB];
        Pattern(MiB, 5).CopyTo(data, 0);
        Pattern(MiB, 9).CopyTo(data, 5 * MiB);
        string src = Path.Combine(_r.Dir, "src.bin");
        await File.WriteAllBytesAsync(src, data);
        await using (var input = File.OpenRead(src))
        {
            Assert.Equal(data.Length, await M.UploadVolumeAsync(v, input, offset: MiB, sparse: true));
        }

        var after = M.FindVolume("u.img", "p1");
        Assert.True(after.Allocation < 4 * MiB, $"sparse upload left the zeroes as holes ({after.Allocation})");
        Assert.Equal(data, await ReadGuest(v.Path, MiB, data.Length));

        string dst = Path.Combine(_r.Dir, "dst.bin");
        await using (var output = new FileStream(dst, FileMode.Create, FileAccess.ReadWrite))
        {
            await M.DownloadVolumeAsync(v, output, offset: MiB, length: data.Length, sparse: true);
        }

        Assert.Equal(data, await File.ReadAllBytesAsync(dst));
        Assert.True(new FileInfo(dst).Length == data.Length);

        // --length limits the upload.
        await using (var input = File.OpenRead(src))
        {
            Assert.Equal(MiB, await M.UploadVolumeAsync(v, input, offset: 0, length: MiB));
        }
    }

    [Fact]
    public async Task QcowImageUploadedIntoQcowVolumeBecomesTheVolume()
    {
        string image = Path.Combine(_r.Dir, "cloud.qcow2");
        using (var img = DiskImage.Create(image, new ImageCreateOptions { Format = ImageFormat.Qcow2, Size = 16 * MiB }))
        {
            await img.WriteAsync(2 * MiB, Pattern(MiB, 11));
        }

        var v = M.CreateVolume("p1", new VolumeCreateRequest { Name = "vm.qcow2", Capacity = MiB, Format = "qcow2" });
        await using (var input = File.OpenRead(image))
        {
            await M.UploadVolumeAsync(v, input);
        }

        var after = M.FindVolume("vm.qcow2", "p1");
        Assert.Equal(16 * MiB, after.Capacity);
        Assert.Equal(Pattern(MiB, 11), await ReadGuest(after.Path, 2 * MiB, (int)MiB));

        // Raw data into a qcow2 volume is written as the guest's content.
        string rawFile = Path.Combine(_r.Dir, "raw.bin");
        await File.WriteAllBytesAsync(rawFile, Pattern(MiB, 13));
        await using (var input = File.OpenRead(rawFile))
        {
            await M.UploadVolumeAsync(after, input, offset: 4 * MiB);
        }

        Assert.Equal(Pattern(MiB, 13), await ReadGuest(after.Path, 4 * MiB, (int)MiB));
        Assert.Equal("qcow2", DiskImage.FormatName(DiskImage.Probe(after.Path)));
    }

    [Fact]
    public async Task UploadedQcowWithABackingFileIsRefused()
    {
        string b = Path.Combine(_r.Dir, "b.raw");
        File.WriteAllBytes(b, new byte[MiB]);
        string image = Path.Combine(_r.Dir, "evil.qcow2");
        using (DiskImage.Create(image, new ImageCreateOptions { Format = ImageFormat.Qcow2, BackingFile = "/etc/shadow", BackingFormat = ImageFormat.Raw, Size = MiB }))
        {
        }

        var v = M.CreateVolume("p1", new VolumeCreateRequest { Name = "vm.qcow2", Capacity = MiB, Format = "qcow2" });
        await using var input = File.OpenRead(image);
        var e = await Assert.ThrowsAsync<VireoException>(() => M.UploadVolumeAsync(v, input));
        Assert.Contains("backing file", e.Message, StringComparison.Ordinal);
        Assert.Null(M.FindVolume("vm.qcow2", "p1").BackingPath);
    }

    private static byte[] Pattern(long length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static async Task<byte[]> ReadGuest(string path, long offset, int length)
    {
        await using var img = DiskImage.Open(path, readOnly: true);
        var buf = new byte[length];
        await img.ReadAsync(offset, buf);
        return buf;
    }
}
