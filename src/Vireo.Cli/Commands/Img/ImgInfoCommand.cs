using System.Globalization;
using System.Text.Json;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img info</c>: qemu-img's human layout and its JSON field names.</summary>
internal static class ImgInfoCommand
{
    public static int Run(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("info", raw, "ft", "qU", ["output", "object", "key-secret"], ["backing-chain", "force-share", "image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("info: expecting one image file name");
        }

        bool json = a.Json("info");
        var chain = new List<ImageInfo>();
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        string? path = src.Path;
        ImageFormat? fmt = src.Format;
        var seen = new HashSet<string>();
        while (path is not null)
        {
            if (!seen.Add(Path.GetFullPath(path)) || chain.Count > 64)
            {
                throw new ImageException($"backing chain loop or too deep at '{path}'");
            }

            var info = DiskImage.Inspect(path, fmt);
            if (info.Format == ImageFormat.Raw)
            {
                // qemu counts a raw file in whole sectors.
                info = info with { VirtualSize = (info.VirtualSize + 511) & ~511L };
            }

            if (info.BackingFile is not null)
            {
                info = info with { FullBackingFile = QemuPath(path, info.BackingFile) };
            }

            chain.Add(info);
            if (!a.Has("backing-chain") || info.FullBackingFile is null)
            {
                break;
            }

            path = info.FullBackingFile;
            fmt = info.BackingFormat is null ? null : DiskImage.ParseFormat(info.BackingFormat);
        }

        if (json)
        {
            ImgJson.Write(ctx.Out, w =>
            {
                if (a.Has("backing-chain"))
                {
                    w.WriteStartArray();
                    foreach (var i in chain)
                    {
                        WriteJson(w, i);
                    }

                    w.WriteEndArray();
                }
                else
                {
                    WriteJson(w, chain[0]);
                }
            });
            return 0;
        }

        for (int i = 0; i < chain.Count; i++)
        {
            if (i > 0)
            {
                ctx.Out.WriteLine();
            }

            WriteHuman(ctx.Out, chain[i]);
        }

        return 0;
    }

    /// <summary>
    /// A backing file name as qemu prints it (path_combine): relative names are joined to the directory part of
    /// the image's name as given, never made absolute, so <c>info top.qcow2</c> says <c>base.qcow2</c>.
    /// </summary>
    internal static string QemuPath(string imagePath, string backing)
    {
        if (Path.IsPathRooted(backing))
        {
            return backing;
        }

        int slash = imagePath.LastIndexOf('/');
        return slash < 0 ? backing : imagePath[..(slash + 1)] + backing;
    }

    internal static void WriteJson(Utf8JsonWriter w, ImageInfo i)
    {
        w.WriteStartObject();
        if (i.BackingFormat is not null)
        {
            w.WriteString("backing-filename-format", i.BackingFormat);
        }

        if (i.Snapshots.Count > 0)
        {
            w.WriteStartArray("snapshots");
            foreach (var s in i.Snapshots)
            {
                w.WriteStartObject();
                if (s.Icount is { } ic && ic != -1)
                {
                    w.WriteNumber("icount", ic);
                }

                w.WriteNumber("vm-clock-nsec", s.VmClockNanoseconds % 1_000_000_000);
                w.WriteString("name", s.Name);
                w.WriteNumber("date-sec", s.DateSeconds);
                w.WriteNumber("date-nsec", s.DateNanoseconds);
                w.WriteNumber("vm-clock-sec", s.VmClockNanoseconds / 1_000_000_000);
                w.WriteString("id", s.Id);
                w.WriteNumber("vm-state-size", s.VmStateSize);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteNumber("virtual-size", i.VirtualSize);
        w.WriteString("filename", i.Path);
        if (i.ClusterSize is { } cs)
        {
            w.WriteNumber("cluster-size", cs);
        }

        w.WriteString("format", DiskImage.FormatName(i.Format));
        w.WriteNumber("actual-size", i.ActualSize);
        if (i.Format == ImageFormat.Qcow2)
        {
            w.WriteStartObject("format-specific");
            w.WriteString("type", "qcow2");
            w.WriteStartObject("data");
            w.WriteString("compat", i.Compat);
            w.WriteString("compression-type", i.CompressionType == CompressionType.Zstd ? "zstd" : "zlib");
            if (i.Compat == "1.1")
            {
                w.WriteBoolean("lazy-refcounts", i.LazyRefcounts);
            }

            if (i.Bitmaps.Count > 0)
            {
                w.WriteStartArray("bitmaps");
                foreach (var b in i.Bitmaps)
                {
                    w.WriteStartObject();
                    w.WriteStartArray("flags");
                    foreach (string f in b.Flags)
                    {
                        w.WriteStringValue(f);
                    }

                    w.WriteEndArray();
                    w.WriteString("name", b.Name);
                    w.WriteNumber("granularity", b.Granularity);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteNumber("refcount-bits", i.RefcountBits);
            if (i.Luks is { } luks)
            {
                w.WriteStartObject("encrypt");
                ImgLuksInfo.WriteJson(w, luks, withFormat: true);
                w.WriteEndObject();
            }

            if (i.DataFile is not null)
            {
                w.WriteString("data-file", i.DataFile);
                w.WriteBoolean("data-file-raw", i.DataFileRaw);
            }

            if (i.Compat == "1.1")
            {
                w.WriteBoolean("corrupt", i.Corrupt);
                w.WriteBoolean("extended-l2", i.ExtendedL2);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }
        else if (i.Luks is { } rawLuks)
        {
            w.WriteStartObject("format-specific");
            w.WriteString("type", "luks");
            w.WriteStartObject("data");
            ImgLuksInfo.WriteJson(w, rawLuks, withFormat: false);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (i.BackingFile is not null)
        {
            w.WriteString("full-backing-filename", i.FullBackingFile);
            w.WriteString("backing-filename", i.BackingFile);
        }

        if (i.Encrypted)
        {
            w.WriteBoolean("encrypted", true);
        }

        w.WriteBoolean("dirty-flag", i.Dirty);
        w.WriteEndObject();
    }

    private static void WriteHuman(TextWriter o, ImageInfo i)
    {
        o.WriteLine($"image: {i.Path}");
        o.WriteLine($"file format: {DiskImage.FormatName(i.Format)}");
        o.WriteLine($"virtual size: {ImgArgs.SizeToString(i.VirtualSize)} ({i.VirtualSize} bytes)");
        o.WriteLine($"disk size: {ImgArgs.SizeToString(i.ActualSize)}");
        if (i.Encrypted)
        {
            o.WriteLine("encrypted: yes");
        }
        if (i.ClusterSize is { } cs)
        {
            o.WriteLine($"cluster_size: {cs}");
        }

        if (i.BackingFile is not null)
        {
            o.WriteLine(i.FullBackingFile != i.BackingFile
                ? $"backing file: {i.BackingFile} (actual path: {i.FullBackingFile})"
                : $"backing file: {i.BackingFile}");
            if (i.BackingFormat is not null)
            {
                o.WriteLine($"backing file format: {i.BackingFormat}");
            }
        }

        if (i.Snapshots.Count > 0)
        {
            o.WriteLine("Snapshot list:");
            WriteSnapshotTable(o, i.Snapshots);
        }

        if (i.Format == ImageFormat.Qcow2)
        {
            o.WriteLine("Format specific information:");
            o.WriteLine($"    compat: {i.Compat}");
            o.WriteLine($"    compression type: {(i.CompressionType == CompressionType.Zstd ? "zstd" : "zlib")}");
            if (i.Compat == "1.1")
            {
                o.WriteLine($"    lazy refcounts: {(i.LazyRefcounts ? "true" : "false")}");
            }

            if (i.Bitmaps.Count > 0)
            {
                o.WriteLine("    bitmaps:");
                for (int n = 0; n < i.Bitmaps.Count; n++)
                {
                    var b = i.Bitmaps[n];
                    o.WriteLine($"        [{n}]:");
                    o.WriteLine("            flags:");
                    for (int f = 0; f < b.Flags.Count; f++)
                    {
                        o.WriteLine($"                [{f}]: {b.Flags[f]}");
                    }

                    o.WriteLine($"            name: {b.Name}");
                    o.WriteLine($"            granularity: {b.Granularity}");
                }
            }

            o.WriteLine($"    refcount bits: {i.RefcountBits}");
            if (i.Luks is { } luks)
            {
                o.WriteLine("    encrypt:");
                ImgLuksInfo.WriteHuman(o, luks, "        ", withFormat: true);
            }
            if (i.DataFile is not null)
            {
                o.WriteLine($"    data file: {i.DataFile}");
                o.WriteLine($"    data file raw: {(i.DataFileRaw ? "true" : "false")}");
            }

            if (i.Compat == "1.1")
            {
                o.WriteLine($"    corrupt: {(i.Corrupt ? "true" : "false")}");
                o.WriteLine($"    extended l2: {(i.ExtendedL2 ? "true" : "false")}");
            }
        }
        else if (i.Luks is { } rawLuks)
        {
            o.WriteLine("Format specific information:");
            ImgLuksInfo.WriteHuman(o, rawLuks, "    ", withFormat: false);
        }
    }

    /// <summary>qemu's snapshot table (also used by <c>snapshot -l</c>).</summary>
    internal static void WriteSnapshotTable(TextWriter o, IReadOnlyList<SnapshotInfo> snaps)
    {
        o.WriteLine("ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT");
        foreach (var s in snaps)
        {
            var date = DateTimeOffset.FromUnixTimeSeconds(s.DateSeconds).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            long secs = s.VmClockNanoseconds / 1_000_000_000;
            string clock = $"{secs / 3600:00}:{secs / 60 % 60:00}:{secs % 60:00}.{s.VmClockNanoseconds / 1_000_000 % 1000:000}";
            string icount = s.Icount is { } ic && ic != -1 ? ic.ToString(CultureInfo.InvariantCulture) : "";
            o.WriteLine($"{s.Id,-9} {s.Name,-17} {ImgArgs.SizeToString(s.VmStateSize),7} {date} {clock} {icount,10}");
        }
    }
}
