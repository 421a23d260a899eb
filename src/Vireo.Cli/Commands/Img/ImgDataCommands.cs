using System.Globalization;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img map</c>: qemu-img's JSON layout (one object per line) and its human table.</summary>
internal static class ImgMapCommand
{
    public static async Task<int> RunAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("map", raw, "f", "qU", ["output", "object", "start-offset", "max-length", "key-secret"], ["force-share", "image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("map: expecting one image file name");
        }

        bool json = a.Json("map");
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        using var img = DiskImage.Open(src.Path, src.Format, readOnly: true, options: src.OpenOptions);
        long start = a.Get("start-offset") is { } so ? ImgArgs.ParseSize(so, "start offset") : 0;
        long? len = a.Get("max-length") is { } ml ? ImgArgs.ParseSize(ml, "max length") : null;
        var map = QemuMerge(await DiskImage.MapAsync(img, start, len).ConfigureAwait(false));
        var o = ctx.Out;
        if (json)
        {
            for (int i = 0; i < map.Count; i++)
            {
                var e = map[i];
                string off = e.Offset is { } x ? $", \"offset\": {x}" : "";
                o.Write($"{(i == 0 ? "[" : "")}{{ \"start\": {e.Start}, \"length\": {e.Length}, \"depth\": {e.Depth}, \"present\": {B(e.Present)}, \"zero\": {B(e.Zero)}, \"data\": {B(e.Data)}{off}}}");
                o.WriteLine(i == map.Count - 1 ? "]" : ",");
            }

            if (map.Count == 0)
            {
                o.WriteLine("[]");
            }

            return 0;
        }

        // The engine names backing layers by resolved path; qemu prints them as it joins names (info's rule).
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string qemuName = src.Path;
        for (var layer = img; layer is not null; layer = layer.Backing)
        {
            names.TryAdd(layer.Path, qemuName);
            if (layer.Backing is not null && DiskImage.Inspect(layer.Path, layer.Format).BackingFile is { } bf)
            {
                qemuName = ImgInfoCommand.QemuPath(qemuName, bf);
            }
        }

        o.WriteLine($"{"Offset",-16}{"Length",-16}{"Mapped to",-16}File");
        foreach (var e in map)
        {
            if (e.Data && e.Offset is null)
            {
                throw new ImageException("File contains external, encrypted or compressed clusters.");
            }

            if (e.Data && e.Offset is { } off)
            {
                string file = e.File is not null && names.TryGetValue(e.File, out var n) ? n : e.File ?? "";
                o.WriteLine($"{Hex(e.Start),-16}{Hex(e.Length),-16}{Hex(off),-16}{file}");
            }
        }

        return 0;
    }

    /// <summary>
    /// qemu-img 7.2 has no "compressed" key: a compressed cluster is data without an offset, and neighbours
    /// that look alike merge.
    /// </summary>
    private static List<MapEntry> QemuMerge(IReadOnlyList<MapEntry> map)
    {
        var list = new List<MapEntry>(map.Count);
        foreach (var raw in map)
        {
            var e = raw.Compressed ? raw with { Compressed = false, Offset = null } : raw;
            if (list.Count > 0 && list[^1] is var p && p.Depth == e.Depth && p.Present == e.Present && p.Zero == e.Zero && p.Data == e.Data
                && p.Offset is null && e.Offset is null && p.Start + p.Length == e.Start)
            {
                list[^1] = p with { Length = p.Length + e.Length };
                continue;
            }

            list.Add(e);
        }

        return list;
    }

    private static string B(bool b) => b ? "true" : "false";

    private static string Hex(long v) => v == 0 ? "0" : "0x" + v.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary><c>img compare</c>: exit 0 identical, 1 different, 2 error.</summary>
internal static class ImgCompareCommand
{
    public static async Task<int> RunAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("compare", raw, "fFT", "pqsU", ["object", "key-secret"], ["force-share", "image-opts"]);
        if (a.Positionals.Count != 2)
        {
            throw new ImageException("compare: expecting two image file names");
        }

        var secrets = ImgSecrets.Parse(a);
        var s1 = ImgSecrets.Source(a, secrets, a.Positionals[0], a.Format("f"));
        var s2 = ImgSecrets.Source(a, secrets, a.Positionals[1], a.Format("F") ?? a.Format("f"));
        using var i1 = DiskImage.Open(s1.Path, s1.Format, readOnly: true, options: s1.OpenOptions);
        using var i2 = DiskImage.Open(s2.Path, s2.Format, readOnly: true, options: s2.OpenOptions);
        CompareResult diff;
        try
        {
            diff = await DiskImage.CompareDetailedAsync(i1, i2, a.Has("s")).ConfigureAwait(false);
        }
        catch (ImageException e) when (e.Message == "Image size mismatch!")
        {
            if (!a.Has("q"))
            {
                ctx.Out.WriteLine("Strict mode: Image size mismatch!");
            }

            return 1;
        }

        if (!a.Has("q"))
        {
            // qemu warns when it reaches the longer image's tail, i.e. when the common part matched.
            if (i1.VirtualSize != i2.VirtualSize && (diff.Offset is null || diff.Offset >= Math.Min(i1.VirtualSize, i2.VirtualSize)))
            {
                ctx.Out.WriteLine("Warning: Image size mismatch!");
            }

            ctx.Out.WriteLine(diff switch
            {
                { Offset: { } d, StatusMismatch: true } => $"Strict mode: Offset {d} block status mismatch!",
                { Offset: { } d } => $"Content mismatch at offset {d}!",
                _ => "Images are identical.",
            });
        }

        return diff.Offset is null ? 0 : 1;
    }
}

/// <summary><c>img measure</c>: required and fully-allocated sizes as qemu-img computes them.</summary>
internal static class ImgMeasureCommand
{
    public static async Task<int> RunAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("measure", raw, "fOlo", "qU", ["output", "size", "object", "key-secret"], ["force-share", "image-opts"]);
        bool json = a.Json("measure");
        var outFmt = a.Format("O") ?? ImageFormat.Raw;
        var target = ImgCreateOptions.Apply(new ImageCreateOptions { Format = outFmt }, a.GetAll("o"), outFmt, ImgSecrets.Parse(a));
        if (outFmt == ImageFormat.Qcow2)
        {
            DiskImage.ValidateCreateOptions(target);
        }
        else if (outFmt == ImageFormat.Luks && target.Password is null)
        {
            throw new ImageException("Parameter 'key-secret' is required for cipher");
        }

        IBlockImage? src = null;
        long size = 0;
        if (a.Get("size") is { } s)
        {
            if (a.Positionals.Count != 0)
            {
                throw new ImageException("measure: --size N cannot be used together with a filename.");
            }

            size = ImgArgs.ParseSize(s, "image size");
        }
        else if (a.Positionals.Count == 1)
        {
            var ms = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
            src = DiskImage.Open(ms.Path, ms.Format, readOnly: true, options: ms.OpenOptions);
        }
        else
        {
            throw new ImageException("measure: either --size N or one filename must be specified.");
        }

        using (src)
        {
            var (req, full) = await DiskImage.MeasureAsync(src, size, target).ConfigureAwait(false);
            // qemu reports a bitmaps figure only when both sides can hold persistent bitmaps (qcow2 v3).
            bool bitmaps = src is { Format: ImageFormat.Qcow2 } && outFmt == ImageFormat.Qcow2 && target.Version == 3
                && DiskImage.Inspect(src.Path, ImageFormat.Qcow2).Compat == "1.1";
            if (json)
            {
                ImgJson.Write(ctx.Out, w =>
                {
                    w.WriteStartObject();
                    if (bitmaps)
                    {
                        w.WriteNumber("bitmaps", 0);
                    }

                    w.WriteNumber("required", req);
                    w.WriteNumber("fully-allocated", full);
                    w.WriteEndObject();
                });
            }
            else
            {
                ctx.Out.WriteLine($"required size: {req}");
                ctx.Out.WriteLine($"fully allocated size: {full}");
                if (bitmaps)
                {
                    ctx.Out.WriteLine("bitmaps size: 0");
                }
            }
        }

        return 0;
    }
}

/// <summary><c>img convert</c> with qemu-img's flags.</summary>
internal static class ImgConvertCommand
{
    public static async Task<int> RunAsync(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("convert", raw, "fOoBFSmtTlr", "cpqnWUC", ["object", "key-secret"], ["target-is-zero", "salvage", "bitmaps", "skip-broken-bitmaps", "image-opts", "target-image-opts"]);
        if (ImgOptionHelp.Asked(a.GetAll("o")))
        {
            return ImgOptionHelp.PrintCreate(ctx.Out, a.Format("O") ?? ImageFormat.Raw, null);
        }

        if (a.Positionals.Count < 2)
        {
            throw new ImageException("convert: expecting at least one source and a destination file name");
        }

        // Accepted and ignored, as they change neither the result nor its safety: -t/-T (cache modes), -C (copy
        // offloading), -r (rate limit), -U. Refused, as ignoring them would give another result:
        if (a.Has("l"))
        {
            throw new ImageException("convert -l (from an internal snapshot) is not supported; convert a copy after 'img snapshot -a'");
        }

        if (a.Has("salvage") || a.Has("bitmaps") || a.Has("skip-broken-bitmaps"))
        {
            throw new ImageException($"convert --{(a.Has("salvage") ? "salvage" : a.Has("bitmaps") ? "bitmaps" : "skip-broken-bitmaps")} is not supported by Vireo");
        }

        var outFmt = a.Format("O") ?? ImageFormat.Raw;
        var create = ImgCreateOptions.Apply(new ImageCreateOptions { Format = outFmt }, a.GetAll("o"), outFmt, ImgSecrets.Parse(a));
        if (a.Has("target-is-zero") && !a.Has("n"))
        {
            throw new ImageException("--target-is-zero requires use of -n flag");
        }

        long sparse = a.Get("S") is { } s ? ImgArgs.ParseSize(s, "buffer size for sparse output") : 4096;
        int coroutines = a.Get("m") is { } m ? int.TryParse(m, out int mi) && mi is >= 1 and <= 16 ? mi : throw new ImageException("Invalid number of coroutines. Allowed number of coroutines is between 1 and 16") : 8;
        var secrets = ImgSecrets.Parse(a);
        var sources = a.Positionals.Take(a.Positionals.Count - 1).Select(p => ImgSecrets.Source(a, secrets, p, a.Format("f"))).ToList();
        var target = ImgSecrets.Target(a, secrets, a.Positionals[^1], a.Format("O"));
        var opts = new ConvertOptions
        {
            Sources = sources.Select(x => x.Path).ToList(),
            SourcePasswords = sources.Select(x => x.Password).ToList(),
            Destination = target.Path,
            DestinationPassword = target.Password,
            SourceFormat = sources[0].Format,
            DestinationFormat = target.Format ?? outFmt,
            CreateOptions = create,
            Compress = a.Has("c"),
            BackingFile = a.Get("B"),
            BackingFormat = a.Format("F"),
            NoCreate = a.Has("n"),
            SparseSize = sparse,
            TargetIsZero = a.Has("target-is-zero"),
            Coroutines = coroutines,
            OutOfOrder = a.Has("W"),
        };
        var progress = ImgDispatcher.Progress(ctx, a.Has("p") && !a.Has("q"));
        await DiskImage.ConvertAsync(opts, progress).ConfigureAwait(false);
        if (progress is not null)
        {
            ctx.Out.WriteLine("    (100.00/100%)");
        }

        return 0;
    }
}
