using System.Security;
using System.Text.Json;
using Vireo.Engine.Storage;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Cli.Commands.Pool;

/// <summary>vol-* handlers other than the data transfers.</summary>
internal static class VolumeHandlers
{
    private static StoragePoolManager Pools => PoolCli.Manager;

    public static Task<int> CreateAs(CommandContext c)
    {
        int pos = 0;
        string pool = PoolCli.Pool(c, ref pos);
        string name = c.Args.Required("name", ref pos, "<name>");
        long capacity = StorageSize.ParseWithSuffix(c.Args.Required("capacity", ref pos, "<capacity>"), "capacity");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string? format = c.Args.Value("format");
        if (format is not (null or "raw" or "qcow2"))
        {
            throw VireoException.Unsupported($"storage pool '{pool}': volume '{name}': --format '{format}' is not supported (raw, qcow2)");
        }

        if (c.Args.Has("backing-vol-format") && !c.Args.Has("backing-vol"))
        {
            throw VireoException.Invalid("--backing-vol-format needs --backing-vol");
        }

        var request = new VolumeCreateRequest
        {
            Name = ObjectName.Validate(name, $"storage pool '{pool}': volume"),
            Capacity = capacity,
            Format = format,
            Allocation = PoolCli.Bytes(c, "allocation"),
            PreallocMetadata = c.Args.Has("prealloc-metadata"),
            BackingVolume = c.Args.Value("backing-vol"),
            BackingFormat = c.Args.Value("backing-vol-format"),
        };
        if (c.Args.Has("print-xml"))
        {
            c.Out.Write(new StorageVolumeDefinition
            {
                Type = "file",
                Name = request.Name,
                Capacity = capacity,
                Allocation = request.Allocation ?? capacity,
                Format = format ?? "raw",
                BackingStore = request.BackingVolume is null ? null
                    : new StorageVolumeBacking(Pools.FindVolume(request.BackingVolume, request.BackingVolume.Contains('/', StringComparison.Ordinal) ? null : pool).Path,
                        request.BackingFormat, null),
            }.ToXml());
            return Task.FromResult(0);
        }

        var v = Pools.CreateVolume(pool, request);
        PoolCli.Done(c, $"Vol {v.Name} created");
        return Task.FromResult(0);
    }

    public static Task<int> Create(CommandContext c)
    {
        int pos = 0;
        string pool = PoolCli.Pool(c, ref pos);
        string file = c.Args.Value("file") ?? (pos < c.Args.Positionals.Count ? c.Args.Positionals[pos] : "");
        string xml = PoolCli.ReadXmlFile(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var v = Pools.CreateVolume(pool, xml, c.Args.Has("prealloc-metadata"));
        PoolCli.Done(c, $"Vol {v.Name} created from {file}");
        return Task.FromResult(0);
    }

    public static async Task<int> CreateFrom(CommandContext c)
    {
        int pos = 0;
        string pool = PoolCli.Pool(c, ref pos);
        string xml = PoolCli.ReadXmlFile(c, ref pos);
        string vol = c.Args.Required("vol", ref pos, "<vol>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string? inputPool = c.Args.Value("inputpool");
        var source = Pools.FindVolume(vol, inputPool is null ? null : Pools.ResolvePoolName(inputPool));
        var v = await Pools.CreateVolumeFromAsync(pool, xml, source, c.Args.Has("prealloc-metadata"), PoolCli.Progress(c, "Copying")).ConfigureAwait(false);
        PoolCli.Done(c, $"Vol {v.Name} created from input vol {source.Name}");
        return 0;
    }

    public static async Task<int> Clone(CommandContext c)
    {
        int pos = 0;
        var source = PoolCli.Volume(c, ref pos);
        string newName = c.Args.Required("newname", ref pos, "<newname>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var v = await Pools.CloneVolumeAsync(source, newName, PoolCli.Progress(c, "Cloning")).ConfigureAwait(false);
        PoolCli.Done(c, $"Vol {v.Name} cloned from {source.Name}");
        return 0;
    }

    public static Task<int> Delete(CommandContext c)
    {
        var v = VolArg(c);
        Pools.DeleteVolume(v);
        PoolCli.Done(c, $"Vol {v.Name} deleted");
        return Task.FromResult(0);
    }

    public static async Task<int> Wipe(CommandContext c)
    {
        var v = VolArg(c);
        await Pools.WipeVolumeAsync(v, c.Args.Value("algorithm"), PoolCli.Progress(c, "Wiping")).ConfigureAwait(false);
        PoolCli.Done(c, $"Vol {v.Name} wiped");
        return 0;
    }

    public static Task<int> Resize(CommandContext c)
    {
        int pos = 0;
        var v = PoolCli.Volume(c, ref pos);
        string text = c.Args.Required("capacity", ref pos, "<capacity>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        bool delta = c.Args.Has("delta");
        bool shrink = c.Args.Has("shrink");
        bool negative = text.StartsWith('-');
        if (negative && !(delta && shrink))
        {
            throw VireoException.Invalid($"vol-resize of '{v.Name}': a negative capacity '{text}' needs --delta and --shrink");
        }

        long size = StorageSize.ParseWithSuffix(negative ? text[1..] : text, "capacity");
        var after = Pools.ResizeVolume(v, size, delta, shrink);
        PoolCli.Done(c, $"Size of volume '{v.Name}' successfully changed to {text}");
        _ = after;
        return Task.FromResult(0);
    }

    public static Task<int> Info(CommandContext c)
    {
        var v = VolArg(c);
        if (c.Json)
        {
            Output.Json(c.Out, w => WriteVolumeJson(w, v));
            return Task.FromResult(0);
        }

        bool bytes = c.Args.Has("bytes");
        var pairs = new List<(string, string)>
        {
            ("Name", v.Name),
            ("Type", v.Type),
            ("Capacity", PoolCli.Figure(v.Capacity, bytes)),
        };
        pairs.Add(c.Args.Has("physical") ? ("Physical", PoolCli.Figure(v.Physical, bytes)) : ("Allocation", PoolCli.Figure(v.Allocation, bytes)));
        Output.KeyValues(c.Out, pairs);
        return Task.FromResult(0);
    }

    public static Task<int> List(CommandContext c)
    {
        int pos = 0;
        string pool = PoolCli.Pool(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var vols = Pools.ListVolumes(pool);
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartArray();
                foreach (var v in vols)
                {
                    WriteVolumeJson(w, v);
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        if (c.Args.Has("details"))
        {
            Output.Table(c.Out, ["Name", "Path", "Type", "Capacity", "Allocation"],
                vols.Select(v => (IReadOnlyList<string>)[v.Name, v.Path, v.Type, StorageSize.Human(v.Capacity), StorageSize.Human(v.Allocation)]));
        }
        else
        {
            Output.Table(c.Out, ["Name", "Path"], vols.Select(v => (IReadOnlyList<string>)[v.Name, v.Path]));
        }

        return Task.FromResult(0);
    }

    public static Task<int> PathOf(CommandContext c) => Print(c, VolArg(c).Path);

    public static Task<int> KeyOf(CommandContext c) => Print(c, VolArg(c).Key);

    public static Task<int> NameOf(CommandContext c) => Print(c, VolArg(c).Name);

    public static Task<int> PoolOf(CommandContext c)
    {
        var v = VolArg(c);
        return Print(c, c.Args.Has("uuid") ? Pools.Info(v.Pool).Uuid.ToString() : v.Pool);
    }

    public static Task<int> DumpXml(CommandContext c)
    {
        c.Out.Write(Pools.VolumeXml(VolArg(c)));
        return Task.FromResult(0);
    }

    private static Task<int> Print(CommandContext c, string s)
    {
        c.Out.WriteLine(s);
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static VolumeInfo VolArg(CommandContext c)
    {
        int pos = 0;
        var v = PoolCli.Volume(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return v;
    }

    internal static void WriteVolumeJson(Utf8JsonWriter w, VolumeInfo v)
    {
        w.WriteStartObject();
        w.WriteString("name", v.Name);
        w.WriteString("pool", v.Pool);
        w.WriteString("path", v.Path);
        w.WriteString("key", v.Key);
        w.WriteString("type", v.Type);
        if (v.Format is not null)
        {
            w.WriteString("format", v.Format);
        }

        w.WriteNumber("capacity", v.Capacity);
        w.WriteNumber("allocation", v.Allocation);
        w.WriteNumber("physical", v.Physical);
        if (v.BackingPath is not null)
        {
            w.WriteString("backing_path", v.BackingPath);
            if (v.BackingFormat is not null)
            {
                w.WriteString("backing_format", v.BackingFormat);
            }
        }

        w.WriteEndObject();
    }

    internal static string Escape(string s) => SecurityElement.Escape(s);
}
