using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img rebase</c>, <c>img commit</c>, <c>img amend</c> and <c>img dd</c>, with qemu-img's flags.</summary>
internal static class ImgChainCommands
{
    public static async Task<int> RebaseAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("rebase", raw, "ftTbFo", "qpucU", ["object", "key-secret"], ["force-share", "image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("rebase: expecting one image file name");
        }

        string? backing = a.Get("b") ?? throw new ImageException("rebase: must specify backing file (-b), or -b \"\" to remove it");
        var progress = ImgDispatcher.Progress(ctx, a.Has("p") && !a.Has("q"));
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        await DiskImage.RebaseAsync(src.Path, backing, a.Format("F"), a.Has("u"), src.Format, src.OpenOptions, progress).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> CommitAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("commit", raw, "ftbr", "qdp", ["object", "key-secret"], ["image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("commit: expecting one image file name");
        }

        var progress = ImgDispatcher.Progress(ctx, a.Has("p") && !a.Has("q"));
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        await DiskImage.CommitAsync(src.Path, src.Format, a.Get("b"), a.Has("d"), src.OpenOptions, progress).ConfigureAwait(false);
        if (!a.Has("q"))
        {
            ctx.Out.WriteLine("Image committed.");
        }

        return 0;
    }

    public static int Amend(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("amend", raw, "fto", "pq", ["object", "key-secret"], ["force", "image-opts"]);
        if (ImgOptionHelp.Asked(a.GetAll("o")) && a.Format("f") is { } helpFormat)
        {
            return ImgOptionHelp.PrintAmend(ctx.Out, helpFormat);
        }

        if (a.Positionals.Count != 1)
        {
            throw new ImageException("amend: expecting one image file name");
        }

        if (a.GetAll("o").Count == 0)
        {
            throw new ImageException("amend: must specify options (-o)");
        }

        var o = new AmendOptions();
        foreach (var list in a.GetAll("o"))
        {
            foreach (var kv in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = kv.IndexOf('=', StringComparison.Ordinal);
                string key = eq < 0 ? kv : kv[..eq];
                string val = eq < 0 ? "" : kv[(eq + 1)..];
                o = key switch
                {
                    "compat" => o with
                    {
                        Version = val switch
                        {
                            "0.10" or "v2" => 2,
                            "1.1" or "v3" => 3,
                            _ => throw new ImageException($"amend: invalid compat value '{val}' (0.10 or 1.1)"),
                        },
                    },
                    "lazy_refcounts" => o with
                    {
                        LazyRefcounts = val switch
                        {
                            "on" => true,
                            "off" => false,
                            _ => throw new ImageException($"amend: invalid lazy_refcounts value '{val}' (on or off)"),
                        },
                    },
                    "backing_file" => o with { BackingFile = val },
                    "backing_fmt" => o with { BackingFormat = DiskImage.ParseFormat(val) },
                    _ when key.StartsWith("encrypt.", StringComparison.Ordinal) || key == "encryption" =>
                        throw new ImageException($"amend: option '{key}' cannot be amended: changing the encryption or its key slots is not supported"),
                    _ => throw new ImageException($"amend: option '{key}' cannot be amended (supported: compat, lazy_refcounts, backing_file, backing_fmt)"),
                };
            }
        }

        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        DiskImage.Amend(src.Path, o, src.Format);
        return 0;
    }

    public static async Task<int> DdAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("dd", raw, "fO", "U", ["object", "key-secret"], ["force-share", "image-opts"]);
        string? input = null;
        string? output = null;
        long bs = 512;
        long? count = null;
        long skip = 0;
        foreach (var p in a.Positionals)
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ImageException($"dd: unrecognized operand '{p}'");
            }

            string key = p[..eq];
            string val = p[(eq + 1)..];
            switch (key)
            {
                case "if":
                    input = val;
                    break;
                case "of":
                    output = val;
                    break;
                case "bs":
                    bs = ImgArgs.ParseSize(val, "buffer size");
                    if (bs <= 0 || bs > int.MaxValue)
                    {
                        throw new ImageException($"invalid buffer size for dd: {val}");
                    }

                    break;
                case "count":
                    count = ImgArgs.ParseSize(val, "count");
                    break;
                case "skip":
                    skip = ImgArgs.ParseSize(val, "skip");
                    break;
                default:
                    throw new ImageException($"dd: unrecognized operand '{key}'");
            }
        }

        if (input is null || output is null)
        {
            throw new ImageException("dd: must specify both input and output files (if= and of=)");
        }

        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), input, a.Format("f"));
        await DiskImage.DdAsync(src.Path, src.Format, output, a.Format("O") ?? ImageFormat.Raw, bs, count, skip, src.OpenOptions).ConfigureAwait(false);
        return 0;
    }
}
