namespace Vireo.Images.Tests;

/// <summary>compression_type=zstd clusters: qemu's read by Vireo byte for byte, Vireo's read back by qemu-img.</summary>
public sealed class ZstdTests
{
    private static byte[] Compressible(int size)
    {
        var data = new byte[size];
        var rnd = new Random(5);
        for (int i = 0; i < size; i += 4096)
        {
            var text = System.Text.Encoding.ASCII.GetBytes($"sector {i} of a compressible image ");
            for (int j = 0; j < 4096; j++)
            {
                data[i + j] = text[j % text.Length];
            }

            if (i % (256 << 10) == 0)
            {
                rnd.NextBytes(data.AsSpan(i, 4096));
            }
        }

        return data;
    }

    [Fact]
    public async Task ZstdBothWays()
    {
        using var d = new TempDir();
        string raw = d.File("src.raw");
        var data = Compressible(3 << 20);
        File.WriteAllBytes(raw, data);

        string q = d.File("q.qcow2");
        Qemu.Img("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", raw, q);
        Assert.Contains("compression type: zstd", Qemu.Img("info", q), StringComparison.Ordinal);
        Assert.Equal(data, ImageBytes.ReadAll(q));

        string v = d.File("v.qcow2");
        await DiskImage.ConvertAsync(new ConvertOptions
        {
            Sources = [raw],
            Destination = v,
            DestinationFormat = ImageFormat.Qcow2,
            Compress = true,
            CreateOptions = new ImageCreateOptions { CompressionType = CompressionType.Zstd },
        });
        Qemu.AssertClean(v);
        string check = Qemu.Img("check", v);
        Assert.DoesNotContain(" 0.00% compressed", check, StringComparison.Ordinal);
        Assert.Contains("compression type: zstd", Qemu.Img("info", v), StringComparison.Ordinal);
        Assert.Contains("Images are identical", Qemu.Img("compare", raw, v), StringComparison.Ordinal);
        Assert.True(new FileInfo(v).Length < data.Length / 2, $"zstd image is {new FileInfo(v).Length} bytes");

        // Writes over compressed clusters replace them; qemu still agrees.
        using (var img = DiskImage.Open(v))
        {
            await img.WriteAsync(70_000, new byte[5000]);
        }

        Array.Clear(data, 70_000, 5000);
        Qemu.AssertClean(v);
        string back = d.File("back.raw");
        Qemu.Img("convert", "-O", "raw", v, back);
        Assert.Equal(data, File.ReadAllBytes(back));
    }
}
