using System.Text;
using Vireo.Images.Qcow2;

namespace Vireo.Images.Tests;

/// <summary>
/// convert -c packs compressed clusters back to back across windows (continuing in the last partly filled
/// host cluster, as qemu does), so its output is as small as qemu-img's, and qemu-img still finds the
/// image clean and equal to its source.
/// </summary>
public sealed class CompressedPackingTests
{
    /// <summary>Text-like data, with a random MiB, a zero MiB and a hole in every four: 12 MiB, several windows.</summary>
    private static byte[] TextImage(int seed)
    {
        var rnd = new Random(seed);
        var words = Enumerable.Range(0, 500).Select(_ => new string(Enumerable.Range(0, rnd.Next(2, 10)).Select(_ => (char)('a' + rnd.Next(26))).ToArray())).ToArray();
        var data = new byte[12 << 20];
        for (int m = 0; m < 12; m++)
        {
            var span = data.AsSpan(m << 20, 1 << 20);
            switch (m % 4)
            {
                case 1:
                    rnd.NextBytes(span);
                    break;
                case 2:
                    break;
                default:
                    var sb = new StringBuilder();
                    while (sb.Length < span.Length)
                    {
                        sb.Append(rnd.Next(100000)).Append(' ').Append(words[rnd.Next(words.Length)]).Append(' ').Append(words[rnd.Next(words.Length)]).Append('\n');
                    }

                    Encoding.ASCII.GetBytes(sb.ToString(0, span.Length), span);
                    break;
            }
        }

        return data;
    }

    [Fact]
    public async Task CompressedConvertIsCleanEqualAndAsSmallAsQemus()
    {
        using var d = new TempDir();
        string raw = d.File("src.raw");
        File.WriteAllBytes(raw, TextImage(11));
        string v = d.File("v.qcow2");
        string q = d.File("q.qcow2");
        await DiskImage.ConvertAsync(new ConvertOptions { Sources = [raw], Destination = v, DestinationFormat = ImageFormat.Qcow2, Compress = true });
        Qemu.Img("convert", "-c", "-O", "qcow2", raw, q);

        Qemu.AssertClean(v);
        Qemu.Img("compare", "-f", "qcow2", "-F", "raw", v, raw);
        long vs = new FileInfo(v).Length;
        long qs = new FileInfo(q).Length;
        Assert.True(vs <= qs * 1.03, $"vireo's -c output is {vs} bytes, qemu-img's {qs}");
    }

    [Fact]
    public void FreedTailClusterIsNotContinued()
    {
        using var d = new TempDir();
        string path = d.File("c.qcow2");
        var text = TextImage(12);
        var model = new byte[4 << 20];
        using (var img = (Qcow2Image)DiskImage.Create(path, new ImageCreateOptions { Size = model.Length }))
        {
            int cs = img.ClusterSize;
            void Compressed(int guestCluster, int from)
            {
                // Highly compressible, so that two fit in one host cluster.
                var src = new byte[cs];
                for (int i = 0; i < cs; i += 1024)
                {
                    text.AsSpan(from, 1024).CopyTo(src.AsSpan(i));
                }

                var buf = new byte[cs];
                int n = ClusterCompression.Compress(img.Header.CompressionType, src, buf);
                Assert.True(n > 0 && n < cs / 4);
                img.WriteCompressed(0, [(guestCluster, buf.AsMemory(0, n))]);
                src.CopyTo(model.AsSpan(guestCluster * cs));
            }

            void Plain(int guestCluster, byte fill)
            {
                model.AsSpan(guestCluster * cs, cs).Fill(fill);
                img.Write((long)guestCluster * cs, model.AsMemory(guestCluster * cs, cs));
            }

            // The first compressed cluster leaves its host cluster partly filled. Overwriting it frees
            // that host cluster, the next plain write may take it, and the next compressed cluster must
            // then start afresh rather than continue in what is now plain data.
            Compressed(0, 0);
            Plain(0, 0x11);
            Plain(5, 0x22);
            Compressed(1, 3 * cs);
            Compressed(2, 6 * cs);
            Plain(7, 0x33);
        }

        Qemu.AssertClean(path);
        Assert.Equal(model, ImageBytes.ReadAll(path, ImageFormat.Qcow2));
    }
}
