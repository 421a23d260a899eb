using System.Xml.Linq;

namespace Vireo.Model.Storage;

/// <summary>A host of a network pool's source.</summary>
public sealed record StoragePoolHost(string Name, int? Port);

/// <summary>An <c>&lt;auth&gt;</c> of a network pool's source: a secret by uuid or by usage.</summary>
public sealed record StoragePoolAuth(string Type, string Username, string? SecretUuid, string? SecretUsage);

/// <summary>Where a pool's storage comes from: a block device, a volume group name, hosts.</summary>
public sealed record StoragePoolSource
{
    public IReadOnlyList<StoragePoolHost> Hosts { get; init; } = [];

    public IReadOnlyList<string> Devices { get; init; } = [];

    public string? Dir { get; init; }

    /// <summary><c>&lt;adapter type='scsi_host' name='host0'/&gt;</c>: type and name.</summary>
    public (string Type, string Name)? Adapter { get; init; }

    /// <summary>The volume group of a logical pool, the image pool of rbd.</summary>
    public string? Name { get; init; }

    /// <summary>File system type of an fs pool, <c>lvm2</c> for a logical one.</summary>
    public string? Format { get; init; }

    public StoragePoolAuth? Auth { get; init; }
}

/// <summary>Where a pool's volumes appear on the host.</summary>
public sealed record StoragePoolTarget(string Path, StoragePermissions? Permissions);

/// <summary>Live figures of an active pool, from statvfs or the volume group.</summary>
public readonly record struct StoragePoolFigures(long Capacity, long Allocation, long Available);

/// <summary>
/// A storage pool definition as libvirt's <c>&lt;pool&gt;</c> XML states it. Capacity figures in the input are
/// ignored (they are facts of the running pool, not configuration), as libvirt does.
/// </summary>
public sealed partial record StoragePoolDefinition
{
    public required StoragePoolType Type { get; init; }

    public required string Name { get; init; }

    public required Guid Uuid { get; init; }

    public StoragePoolSource Source { get; init; } = new();

    public StoragePoolTarget? Target { get; init; }

    /// <summary>The target directory, which every pool type Vireo runs has.</summary>
    public string TargetPath => Target?.Path ?? throw VireoException.Invalid($"storage pool '{Name}' has no <target><path>");

    public static StoragePoolDefinition Parse(string xml)
    {
        var doc = SafeXml.Parse(xml, "storage pool XML");
        var root = doc.Root!;
        if (root.Name.LocalName != "pool" || root.Name.NamespaceName.Length != 0)
        {
            throw VireoException.Invalid($"storage pool XML: root element is <{root.Name.LocalName}>, expected <pool>");
        }

        var type = StoragePoolTypes.Parse((string?)root.Attribute("type"));
        var source = ParseSource(root.Element("source"), type);
        string? name = root.Element("name")?.Value.Trim();
        if (string.IsNullOrEmpty(name) && type is StoragePoolType.Logical or StoragePoolType.Rbd && source.Name is not null)
        {
            // libvirt lets a logical pool take the volume group's name.
            name = source.Name;
        }

        name = ObjectName.Validate(name, "storage pool");
        if (type == StoragePoolType.Logical && source.Name is null)
        {
            source = source with { Name = ObjectName.Validate(name, $"storage pool '{name}': volume group") };
        }

        Guid uuid = Guid.NewGuid();
        string? u = root.Element("uuid")?.Value.Trim();
        if (!string.IsNullOrEmpty(u) && !Guid.TryParse(u, out uuid))
        {
            throw VireoException.Invalid($"storage pool '{name}': uuid '{u}' is malformed");
        }

        StoragePoolTarget? target = null;
        var t = root.Element("target");
        string? path = t?.Element("path")?.Value.Trim();
        if (string.IsNullOrEmpty(path) && type == StoragePoolType.Logical)
        {
            path = "/dev/" + source.Name;
        }

        if (!string.IsNullOrEmpty(path))
        {
            target = new StoragePoolTarget(SanitizePath(path, name), StoragePermissions.Parse(t?.Element("permissions"), $"storage pool '{name}'"));
        }
        else if (type is StoragePoolType.Dir or StoragePoolType.Fs or StoragePoolType.NetFs)
        {
            throw VireoException.Invalid($"storage pool '{name}' of type {type.ToXml()} needs <target><path>");
        }

        if (type == StoragePoolType.Fs && source.Devices.Count != 1)
        {
            throw VireoException.Invalid($"storage pool '{name}' of type fs needs exactly one <source><device path='...'/>");
        }

        return new StoragePoolDefinition { Type = type, Name = name, Uuid = uuid, Source = source, Target = target };
    }

    /// <summary>libvirt's virFileSanitizePath: collapse repeated slashes, drop a trailing one; must be absolute.</summary>
    public static string SanitizePath(string path, string pool)
    {
        if (!path.StartsWith('/'))
        {
            throw VireoException.Invalid($"storage pool '{pool}': target path '{path}' is not absolute");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw VireoException.Invalid($"storage pool '{pool}': target path contains NUL");
        }

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Any(p => p == ".."))
        {
            throw VireoException.Invalid($"storage pool '{pool}': target path '{path}' must not contain '..'");
        }

        return "/" + string.Join('/', parts);
    }

    private static StoragePoolSource ParseSource(XElement? s, StoragePoolType type)
    {
        if (s is null)
        {
            return new StoragePoolSource { Format = DefaultFormat(type) };
        }

        var hosts = s.Elements("host").Select(h =>
        {
            string hn = (string?)h.Attribute("name") ?? throw VireoException.Invalid("storage pool source: <host> needs a name");
            int? port = null;
            if (h.Attribute("port") is { } pa)
            {
                port = int.TryParse(pa.Value, out int p) && p is > 0 and < 65536 ? p : throw VireoException.Invalid($"storage pool source: host port '{pa.Value}' is not a port number");
            }

            return new StoragePoolHost(hn, port);
        }).ToList();
        var devices = s.Elements("device").Select(d => (string?)d.Attribute("path")
            ?? throw VireoException.Invalid("storage pool source: <device> needs a path attribute")).ToList();
        (string, string)? adapter = null;
        if (s.Element("adapter") is { } a)
        {
            adapter = ((string?)a.Attribute("type") ?? "scsi_host", (string?)a.Attribute("name") ?? "");
        }

        StoragePoolAuth? auth = null;
        if (s.Element("auth") is { } au)
        {
            var secret = au.Element("secret");
            auth = new StoragePoolAuth((string?)au.Attribute("type") ?? "", (string?)au.Attribute("username") ?? "",
                (string?)secret?.Attribute("uuid"), (string?)secret?.Attribute("usage"));
        }

        string? name = s.Element("name")?.Value.Trim();
        return new StoragePoolSource
        {
            Hosts = hosts,
            Devices = devices,
            Dir = (string?)s.Element("dir")?.Attribute("path"),
            Adapter = adapter,
            Name = string.IsNullOrEmpty(name) ? null : name,
            Format = (string?)s.Element("format")?.Attribute("type") ?? DefaultFormat(type),
            Auth = auth,
        };
    }

    private static string? DefaultFormat(StoragePoolType type) => type switch
    {
        StoragePoolType.Fs => "auto",
        StoragePoolType.NetFs => "auto",
        StoragePoolType.Logical => "lvm2",
        _ => null,
    };
}
