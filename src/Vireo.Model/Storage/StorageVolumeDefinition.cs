using System.Xml.Linq;

namespace Vireo.Model.Storage;

/// <summary>The image a volume is an overlay of.</summary>
public sealed record StorageVolumeBacking(string Path, string? Format, StoragePermissions? Permissions);

/// <summary>Access, modification and change times of a volume's file (output only, as in libvirt).</summary>
public sealed record StorageVolumeTimestamps(DateTimeOffset Atime, DateTimeOffset Mtime, DateTimeOffset Ctime);

/// <summary>
/// A volume as libvirt's <c>&lt;volume&gt;</c> XML states it. How it parses depends on the pool it is for:
/// file pools default the format to raw, block pools (logical) have none.
/// </summary>
public sealed partial record StorageVolumeDefinition
{
    /// <summary>Formats libvirt knows for volumes of file pools.</summary>
    public static readonly IReadOnlyList<string> FileFormats =
        ["raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow", "qcow", "qcow2", "qed", "vmdk"];

    /// <summary><c>file</c>, <c>block</c> or <c>dir</c>.</summary>
    public required string Type { get; init; }

    public required string Name { get; init; }

    public string? Key { get; init; }

    /// <summary>Guest-visible size in bytes; null only when parsed for vol-create-from, which takes the source's.</summary>
    public long? Capacity { get; init; }

    /// <summary>Bytes to preallocate; null when the XML left it out (libvirt then allocates the capacity).</summary>
    public long? Allocation { get; init; }

    /// <summary>Host-side size (live output only).</summary>
    public long? Physical { get; init; }

    public string? Path { get; init; }

    /// <summary>Image format; null for block volumes.</summary>
    public string? Format { get; init; }

    public StoragePermissions? Permissions { get; init; }

    public StorageVolumeTimestamps? Timestamps { get; init; }

    /// <summary>qcow2 compatibility level, <c>0.10</c> or <c>1.1</c>.</summary>
    public string? Compat { get; init; }

    /// <summary>Whether a <c>&lt;features&gt;</c> element is present (qcow2 v3).</summary>
    public bool HasFeatures { get; init; }

    public bool LazyRefcounts { get; init; }

    public StorageVolumeBacking? BackingStore { get; init; }

    /// <summary>Parses volume XML for a pool of <paramref name="poolType"/>.</summary>
    public static StorageVolumeDefinition Parse(string xml, StoragePoolType poolType, bool capacityOptional = false)
    {
        var doc = SafeXml.Parse(xml, "storage volume XML");
        var root = doc.Root!;
        if (root.Name.LocalName != "volume" || root.Name.NamespaceName.Length != 0)
        {
            throw VireoException.Invalid($"storage volume XML: root element is <{root.Name.LocalName}>, expected <volume>");
        }

        string name = ObjectName.Validate(root.Element("name")?.Value.Trim(), "storage volume");
        string what = $"storage volume '{name}'";
        bool fileVolumes = poolType.HasFileVolumes();
        string type = (string?)root.Attribute("type") ?? (fileVolumes ? "file" : "block");
        if (type is not ("file" or "block" or "dir" or "network" or "netdir"))
        {
            throw VireoException.Invalid($"{what}: volume type '{type}' is not known (file, block, dir)");
        }

        long? capacity = Size(root.Element("capacity"), what, "capacity");
        if (capacity is null && !capacityOptional)
        {
            throw VireoException.Invalid($"{what}: <capacity> is missing");
        }

        long? allocation = Size(root.Element("allocation"), what, "allocation");
        var t = root.Element("target");
        string? format = null;
        if (fileVolumes)
        {
            format = (string?)t?.Element("format")?.Attribute("type") ?? "raw";
            if (!FileFormats.Contains(format))
            {
                throw VireoException.Invalid($"{what}: format '{format}' is not a volume format ({string.Join(", ", FileFormats)})");
            }
        }

        var features = t?.Element("features");
        string? compat = t?.Element("compat")?.Value.Trim();
        if (compat is not (null or "0.10" or "1.1"))
        {
            throw VireoException.Invalid($"{what}: compat '{compat}' is not 0.10 or 1.1");
        }

        if (features is not null && compat is null)
        {
            // Features exist only in qcow2 v3, so asking for them implies it (libvirt does the same).
            compat = "1.1";
        }

        StorageVolumeBacking? backing = null;
        if (root.Element("backingStore") is { } b)
        {
            string bp = b.Element("path")?.Value.Trim() is { Length: > 0 } p ? p : throw VireoException.Invalid($"{what}: <backingStore> needs a <path>");
            string? bf = (string?)b.Element("format")?.Attribute("type");
            if (bf is not null && !FileFormats.Contains(bf))
            {
                throw VireoException.Invalid($"{what}: backing store format '{bf}' is not a volume format");
            }

            backing = new StorageVolumeBacking(bp, bf, StoragePermissions.Parse(b.Element("permissions"), $"{what} backing store"));
        }

        string? path = t?.Element("path")?.Value.Trim();
        string? key = root.Element("key")?.Value.Trim();
        return new StorageVolumeDefinition
        {
            Type = type,
            Name = name,
            Key = string.IsNullOrEmpty(key) ? null : key,
            Capacity = capacity,
            Allocation = allocation,
            Path = string.IsNullOrEmpty(path) ? null : path,
            Format = format,
            Permissions = StoragePermissions.Parse(t?.Element("permissions"), what),
            Compat = compat,
            HasFeatures = features is not null,
            LazyRefcounts = features?.Element("lazy_refcounts") is not null,
            BackingStore = backing,
        };
    }

    private static long? Size(XElement? e, string what, string field) =>
        e is null ? null : StorageSize.Parse(e.Value, (string?)e.Attribute("unit"), $"{what} {field}");
}
