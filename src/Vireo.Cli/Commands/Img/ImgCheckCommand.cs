using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img check</c>: exit 0 clean, 1 check failed, 2 corruptions, 3 leaks only (qemu-img's codes).</summary>
internal static class ImgCheckCommand
{
    public static int Run(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("check", raw, "frT", "qU", ["output", "object", "key-secret"], ["force-share", "image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("check: expecting one image file name");
        }

        bool json = a.Json("check");
        var repair = a.Get("r") switch
        {
            null => CheckRepair.None,
            "leaks" => CheckRepair.Leaks,
            "all" => CheckRepair.All,
            var r => throw new ImageException($"check: invalid repair mode '{r}' (use leaks or all)"),
        };
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        string path = src.Path;
        CheckResult res;
        try
        {
            if (src.Format != ImageFormat.Raw && DiskImage.Probe(path) == ImageFormat.Qcow2 && DiskImage.Inspect(path, ImageFormat.Qcow2).BackingFile is not null)
            {
                // qemu-img opens the whole chain first: a check with a missing backing file fails (exit 1).
                using var chain = DiskImage.Open(path, src.Format, readOnly: true, options: src.OpenOptions);
            }

            res = DiskImage.Check(path, repair, src.Format);
        }
        catch (ImageException e) when (!e.IsCorruption)
        {
            ctx.Err.WriteLine($"error: {e.Message}");
            return e.Message.Contains("does not support checks", StringComparison.Ordinal) ? 63 : 1;
        }

        if (json && !a.Has("q"))
        {
            foreach (var m in res.Messages)
            {
                ctx.Err.WriteLine(m);
            }

            // qemu's key order (its QDict hash order); the counts are optional fields printed only when non-zero.
            ImgJson.Write(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteNumber("image-end-offset", res.ImageEndOffset);
                Optional(w, "compressed-clusters", res.CompressedClusters);
                Optional(w, "total-clusters", res.TotalClusters);
                Optional(w, "corruptions", res.Corruptions);
                Optional(w, "corruptions-fixed", res.CorruptionsFixed);
                w.WriteNumber("check-errors", res.CheckErrors);
                Optional(w, "leaks", res.Leaks);
                Optional(w, "leaks-fixed", res.LeaksFixed);
                Optional(w, "allocated-clusters", res.AllocatedClusters);
                w.WriteString("filename", path);
                w.WriteString("format", DiskImage.FormatName(res.Format));
                Optional(w, "fragmented-clusters", res.FragmentedClusters);
                w.WriteEndObject();
            });
        }
        else if (!a.Has("q"))
        {
            foreach (var m in res.Messages)
            {
                ctx.Err.WriteLine(m);
            }

            var o = ctx.Out;
            if (res.LeaksFixed + res.CorruptionsFixed > 0)
            {
                o.WriteLine("The following inconsistencies were found and repaired:\n");
                o.WriteLine($"    {res.LeaksFixed} leaked clusters");
                o.WriteLine($"    {res.CorruptionsFixed} corruptions\n");
                o.WriteLine("Double checking the fixed image now...");
            }

            if (res.Corruptions == 0 && res.Leaks == 0 && res.CheckErrors == 0)
            {
                o.WriteLine("No errors were found on the image.");
            }
            else
            {
                if (res.Corruptions > 0)
                {
                    o.WriteLine($"\n{res.Corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.");
                }

                if (res.Leaks > 0)
                {
                    o.WriteLine($"\n{res.Leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.");
                }
            }

            if (res.TotalClusters > 0 && res.AllocatedClusters > 0)
            {
                double t = res.TotalClusters;
                double al = res.AllocatedClusters;
                o.WriteLine(FormattableString.Invariant(
                    $"{res.AllocatedClusters}/{res.TotalClusters} = {al * 100 / t:0.00}% allocated, {(al == 0 ? 0 : res.FragmentedClusters * 100 / al):0.00}% fragmented, {(al == 0 ? 0 : res.CompressedClusters * 100 / al):0.00}% compressed clusters"));
            }

            o.WriteLine($"Image end offset: {res.ImageEndOffset}");
        }

        return res.CheckErrors > 0 ? 1 : res.Corruptions > 0 ? 2 : res.Leaks > 0 ? 3 : 0;
    }

    private static void Optional(System.Text.Json.Utf8JsonWriter w, string name, long value)
    {
        if (value != 0)
        {
            w.WriteNumber(name, value);
        }
    }
}
