using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img create</c> and <c>img resize</c>.</summary>
internal static class ImgBasicCommands
{
    public static int Create(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("create", raw, "fobFu", "qu", ["object"], []);
        var fmt = a.Format("f") ?? ImageFormat.Raw;
        if (a.Positionals.Count is < 1 or > 2)
        {
            throw new ImageException("create: expecting a filename and an optional size");
        }

        var o = new ImageCreateOptions { Format = fmt };
        o = ImgCreateOptions.Apply(o, a.GetAll("o"), fmt, ImgSecrets.Parse(a));
        if (a.Get("b") is { } b)
        {
            o = o with { BackingFile = b };
        }

        if (a.Format("F") is { } bf)
        {
            o = o with { BackingFormat = bf };
        }

        if (a.Positionals.Count == 2)
        {
            o = o with { Size = ImgArgs.ParseSize(a.Positionals[1], "image size") };
        }
        else if (o.BackingFile is null && o.Size == 0)
        {
            throw new ImageException("Image creation needs a size parameter");
        }

        string path = a.Positionals[0];
        DiskImage.CreateFile(path, o);

        if (!a.Has("q"))
        {
            var info = DiskImage.Inspect(path, fmt);
            var parts = new List<string> { $"Formatting '{path}', fmt={DiskImage.FormatName(fmt)}" };
            foreach (var s in a.GetAll("o"))
            {
                // The encryption options as given (a secret's id, never its value), as qemu-img echoes them.
                parts.AddRange(ImgSecrets.SplitOptions(s, "-o", firstIsType: false, out _)
                    .Where(kv => kv.Key.StartsWith("encrypt.", StringComparison.Ordinal))
                    .Select(kv => $"{kv.Key}={kv.Value}"));
            }
            if (fmt == ImageFormat.Qcow2)
            {
                parts.Add($"cluster_size={o.ClusterSize}");
                if (o.ExtendedL2)
                {
                    parts.Add("extended_l2=on");
                }

                parts.Add($"compression_type={(o.CompressionType == CompressionType.Zstd ? "zstd" : "zlib")}");
            }

            parts.Add($"size={info.VirtualSize}");
            if (o.BackingFile is not null)
            {
                parts.Add($"backing_file={o.BackingFile}");
                if (o.BackingFormat is { } f)
                {
                    parts.Add($"backing_fmt={DiskImage.FormatName(f)}");
                }
            }

            if (fmt == ImageFormat.Qcow2)
            {
                parts.Add($"lazy_refcounts={(o.LazyRefcounts ? "on" : "off")}");
                parts.Add($"refcount_bits={o.RefcountBits}");
            }

            ctx.Out.WriteLine(string.Join(' ', parts));
        }

        return 0;
    }

    public static int Resize(CommandContext ctx, IReadOnlyList<string> raw)
    {
        // A size like -1G is a positional, not a flag: pull it out before getopt sees it.
        var list = raw.ToList();
        string? sizeArg = list.Count > 0 && list[^1].Length > 1 && list[^1][0] is '-' or '+' && char.IsDigit(list[^1][1]) ? list[^1] : null;
        if (sizeArg is not null)
        {
            list.RemoveAt(list.Count - 1);
        }

        var a = ImgArgs.Parse("resize", list, "f", "qU", ["object", "preallocation", "key-secret"], ["shrink", "image-opts"]);
        if (sizeArg is not null)
        {
            a.Positionals.Add(sizeArg);
        }

        if (a.Positionals.Count != 2)
        {
            throw new ImageException("resize: expecting a filename and a size");
        }

        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        string path = src.Path;
        string s = a.Positionals[1];
        var info = DiskImage.Inspect(path, src.Format);
        long size = s[0] switch
        {
            '+' => info.VirtualSize + ImgArgs.ParseSize(s[1..], "image size"),
            '-' => info.VirtualSize - ImgArgs.ParseSize(s[1..], "image size"),
            _ => ImgArgs.ParseSize(s, "image size"),
        };
        if (size < 0)
        {
            throw new ImageException("New image size must be positive");
        }

        DiskImage.Resize(path, size, a.Has("shrink"), info.Format, src.OpenOptions);
        if (!a.Has("q"))
        {
            ctx.Out.WriteLine("Image resized.");
        }

        return 0;
    }
}
