using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img create</c> and <c>img resize</c>.</summary>
internal static class ImgBasicCommands
{
    public static int Create(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("create", raw, "fobF", "qu", ["object"], []);
        var fmt = a.Format("f") ?? ImageFormat.Raw;
        if (ImgOptionHelp.Asked(a.GetAll("o")))
        {
            // As qemu-img: the list (with the file's own options when a file name is given), nothing created.
            return ImgOptionHelp.PrintCreate(ctx.Out, fmt, a.Positionals.Count > 0 ? a.Positionals[0] : null);
        }

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
        if (o.BackingFile is not null)
        {
            // qemu-img 7.2 refuses to guess a backing format (a probed raw backing file is a security hole),
            // and opens the backing image even when the size is given.
            if (o.BackingFormat is null)
            {
                var detected = DiskImage.Probe(DiskImage.ResolveRelative(path, o.BackingFile));
                throw new ImageException($"Backing file specified without backing format (detected format of '{o.BackingFile}': {DiskImage.FormatName(detected)}; add -F {DiskImage.FormatName(detected)})");
            }

            if (!a.Has("u") || o.Size == 0)
            {
                using var backing = DiskImage.Open(DiskImage.ResolveRelative(path, o.BackingFile), o.BackingFormat, readOnly: true);
                if (o.Size == 0)
                {
                    o = o with { Size = backing.VirtualSize };
                }
            }
        }

        if (a.Has("u") && o.BackingFile is not null && fmt == ImageFormat.Qcow2)
        {
            // -u: the backing file may not exist (yet); write its name without opening it.
            DiskImage.CreateFile(path, o with { BackingFile = null, BackingFormat = null });
            DiskImage.RebaseAsync(path, o.BackingFile, o.BackingFormat, unsafeMode: true).GetAwaiter().GetResult();
        }
        else
        {
            // CreateFile never opens the backing file with the new image's key.
            DiskImage.CreateFile(path, o);
        }

        if (!a.Has("q"))
        {
            var info = DiskImage.Inspect(path, fmt);
            ctx.Out.WriteLine(ImgCreateEcho.Line(path, fmt, a.GetAll("o"), a.Get("b"), a.Get("F"), info.VirtualSize));
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
