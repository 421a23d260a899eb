using System.Globalization;
using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Engine.Storage;

/// <summary>
/// An LVM volume group; volumes are its logical volumes. lvm2's tools are the real component here, so they
/// run as argument arrays and answer in JSON (<c>--reportformat json</c>).
/// </summary>
internal sealed class LogicalPoolDriver : PoolDriver
{
    public static readonly LogicalPoolDriver Instance = new();

    public override bool FileVolumes => false;

    /// <summary>
    /// Without device-mapper in the kernel LVs cannot be activated, but their metadata can still be managed;
    /// lvm2 then needs activation disabled or it refuses every change.
    /// </summary>
    internal static bool DeviceMapperAvailable =>
        File.Exists("/sys/class/misc/device-mapper/dev") || File.ReadAllText("/proc/misc").Contains("device-mapper", StringComparison.Ordinal);

    private static string Vg(StoragePoolDefinition def) => def.Source.Name ?? def.Name;

    private static List<string> Lvm(string tool, params string[] args)
    {
        var argv = new List<string> { tool };
        if (!DeviceMapperAvailable)
        {
            argv.Add("--config");
            argv.Add("global { activation = 0 }");
        }

        argv.AddRange(args);
        return argv;
    }

    public override void Build(StoragePoolDefinition def, PoolBuildMode mode)
    {
        if (def.Source.Devices.Count == 0)
        {
            throw VireoException.Invalid($"storage pool '{def.Name}': pool-build of a logical pool needs <source><device path='...'/> (--source-dev)");
        }

        foreach (string dev in def.Source.Devices)
        {
            var args = new List<string>();
            if (mode == PoolBuildMode.Overwrite)
            {
                args.AddRange(["--yes", "--force"]);
            }

            args.Add("--");
            args.Add(dev);
            ExternalTool.Run($"storage pool '{def.Name}': pvcreate {dev}", Lvm("pvcreate", [.. args]));
        }

        ExternalTool.Run($"storage pool '{def.Name}': vgcreate {Vg(def)}", Lvm("vgcreate", ["--", Vg(def), .. def.Source.Devices]));
    }

    public override void Start(StoragePoolDefinition def)
    {
        // vgs fails when the group does not exist: say so in the pool's words.
        _ = Figures(def);
        ExternalTool.Run($"storage pool '{def.Name}': activate volume group {Vg(def)}", Lvm("vgchange", "--activate", "y", "--", Vg(def)));
    }

    public override void Stop(StoragePoolDefinition def) =>
        ExternalTool.Run($"storage pool '{def.Name}': deactivate volume group {Vg(def)}", Lvm("vgchange", "--activate", "n", "--", Vg(def)));

    public override void Delete(StoragePoolDefinition def)
    {
        ExternalTool.Run($"storage pool '{def.Name}': vgremove {Vg(def)}", Lvm("vgremove", "--force", "--", Vg(def)));
        foreach (string dev in def.Source.Devices)
        {
            ExternalTool.Run($"storage pool '{def.Name}': pvremove {dev}", Lvm("pvremove", "--", dev));
        }
    }

    public override StoragePoolFigures Figures(StoragePoolDefinition def)
    {
        var (rc, stdout, stderr) = ExternalTool.RunFull($"storage pool '{def.Name}': vgs",
            Lvm("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "vg_name,vg_size,vg_free", "--", Vg(def)), allowFailure: true);
        if (rc != 0)
        {
            throw VireoException.State($"storage pool '{def.Name}': volume group '{Vg(def)}' not found ({stderr.Trim()}); run pool-build first");
        }

        var rows = Rows(stdout, "vg");
        if (rows.Count == 0)
        {
            throw VireoException.State($"storage pool '{def.Name}': volume group '{Vg(def)}' not found");
        }

        var row = rows[0];
        long size = Long(row, "vg_size");
        long free = Long(row, "vg_free");
        return new StoragePoolFigures(size, size - free, free);
    }

    public override IReadOnlyList<VolumeInfo> ListVolumes(StoragePoolDefinition def)
    {
        string stdout = ExternalTool.Run($"storage pool '{def.Name}': lvs",
            Lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "lv_name,lv_uuid,lv_size", "--", Vg(def)));
        return Rows(stdout, "lv").Select(r =>
        {
            string name = r.GetProperty("lv_name").GetString()!;
            long size = Long(r, "lv_size");
            return new VolumeInfo
            {
                Pool = def.Name,
                Name = name,
                Path = $"{def.TargetPath}/{name}",
                Key = r.GetProperty("lv_uuid").GetString()!,
                Type = "block",
                Capacity = size,
                Allocation = size,
                Physical = size,
            };
        }).OrderBy(v => v.Name, StringComparer.Ordinal).ToList();
    }

    public override VolumeInfo? FindVolume(StoragePoolDefinition def, string name) =>
        ListVolumes(def).FirstOrDefault(v => v.Name == name);

    public override string VolumePath(StoragePoolDefinition def, string name) =>
        $"{def.TargetPath}/{ObjectName.Validate(name, $"storage pool '{def.Name}': volume")}";

    public override void CreateBlockVolume(StoragePoolDefinition def, string name, long capacity)
    {
        // lvm2 names allow letters, digits and +_.- only; check here so the message names the volume.
        if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '+' or '_' or '.' or '-')) || name.StartsWith('-'))
        {
            throw VireoException.Invalid($"storage pool '{def.Name}': volume name '{name}' is not a valid LVM name (letters, digits, + _ . - only)");
        }

        var args = new List<string> { "--yes", "--name", name, "--size", $"{capacity.ToString(CultureInfo.InvariantCulture)}b" };
        if (!DeviceMapperAvailable)
        {
            args.AddRange(["--activate", "n", "--zero", "n", "--wipesignatures", "n"]);
        }

        args.AddRange(["--", Vg(def)]);
        ExternalTool.Run($"storage pool '{def.Name}': create volume '{name}'", Lvm("lvcreate", [.. args]));
    }

    public override void DeleteVolume(StoragePoolDefinition def, VolumeInfo volume) =>
        ExternalTool.Run($"storage pool '{def.Name}': delete volume '{volume.Name}'", Lvm("lvremove", "--force", "--", $"{Vg(def)}/{volume.Name}"));

    public override void ResizeBlockVolume(StoragePoolDefinition def, VolumeInfo volume, long capacity) =>
        ExternalTool.Run($"storage pool '{def.Name}': resize volume '{volume.Name}'",
            Lvm("lvresize", "--yes", "--force", "--size", $"{capacity.ToString(CultureInfo.InvariantCulture)}b", "--", $"{Vg(def)}/{volume.Name}"));

    private static List<JsonElement> Rows(string json, string kind)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var rows = new List<JsonElement>();
            foreach (var report in doc.RootElement.GetProperty("report").EnumerateArray())
            {
                if (report.TryGetProperty(kind, out var arr))
                {
                    rows.AddRange(arr.EnumerateArray().Select(e => e.Clone()));
                }
            }

            return rows;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"lvm2 report is not the expected JSON: {e.Message}");
        }
    }

    private static long Long(JsonElement row, string field) =>
        long.TryParse(row.GetProperty(field).GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new VireoException(ErrorKind.OperationFailed, $"lvm2 reported {field} '{row.GetProperty(field)}', not a byte count");
}
