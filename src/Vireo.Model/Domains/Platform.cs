using System.Globalization;
using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>One SMBIOS structure QEMU should present: its type (0 BIOS, 1 system, 2 base board, 3 chassis, 11 OEM strings) and fields.</summary>
public sealed record SmbiosTable(int Type, IReadOnlyList<(string Key, string Value)> Fields);

/// <summary>A firmware configuration item (<c>&lt;sysinfo type='fwcfg'&gt;</c>): a name and either inline text or a host file.</summary>
public sealed record FwCfgEntry(string Name, string? Value, string? File);

/// <summary><c>&lt;pm&gt;</c>: whether the guest may suspend to RAM (S3) or to disk (S4); null leaves QEMU's default.</summary>
public sealed record PowerManagement(bool? SuspendToMem, bool? SuspendToDisk)
{
    public static readonly PowerManagement Default = new(null, null);
}

/// <summary>
/// The platform facts a domain shows its guest beyond devices: SMBIOS tables and fw_cfg items from
/// <c>&lt;sysinfo&gt;</c>, and the ACPI sleep states of <c>&lt;pm&gt;</c>. They round-trip as the user wrote them;
/// this reads them for the command line and validates them when the definition is parsed.
/// </summary>
public static class DomainPlatform
{
    // libvirt's entry names per SMBIOS structure, mapped to QEMU's -smbios keys.
    private static readonly (string Element, int Type, string[] Keys)[] Structures =
    [
        ("bios", 0, ["vendor", "version", "date", "release"]),
        ("system", 1, ["manufacturer", "product", "version", "serial", "uuid", "sku", "family"]),
        ("baseBoard", 2, ["manufacturer", "product", "version", "serial", "asset", "location"]),
        ("chassis", 3, ["manufacturer", "version", "serial", "asset", "sku"]),
    ];

    /// <summary>The SMBIOS tables of the definition's <c>&lt;sysinfo type='smbios'&gt;</c> (empty when there is none).</summary>
    public static IReadOnlyList<SmbiosTable> SmbiosTables(DomainDefinition def)
    {
        ArgumentNullException.ThrowIfNull(def);
        var tables = new List<SmbiosTable>();
        foreach (XElement sysinfo in SysinfoElements(def, "smbios"))
        {
            foreach (var (element, type, keys) in Structures)
            {
                foreach (XElement block in sysinfo.Elements(element))
                {
                    var fields = new List<(string, string)>();
                    foreach (XElement entry in block.Elements("entry"))
                    {
                        string name = (string?)entry.Attribute("name") ?? throw VireoException.Invalid($"<sysinfo><{element}><entry> needs a name attribute");
                        if (!keys.Contains(name, StringComparer.Ordinal))
                        {
                            throw VireoException.Invalid($"<sysinfo><{element}><entry name='{name}'>: unknown entry (expected one of {string.Join(", ", keys)})");
                        }

                        fields.Add((name, entry.Value));
                    }

                    if (type == 1 && fields.FirstOrDefault(f => f.Item1 == "uuid").Item2 is { } u
                        && (!Guid.TryParse(u, out Guid g) || (def.Uuid != Guid.Empty && g != def.Uuid)))
                    {
                        throw VireoException.Invalid($"<sysinfo><system><entry name='uuid'>{u}</entry> does not match the domain's <uuid> {def.Uuid}");
                    }

                    if (type == 0 && fields.FirstOrDefault(f => f.Item1 == "date").Item2 is { } date
                        && !DateTime.TryParseExact(date, ["MM/dd/yyyy", "MM/dd/yy"], CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                    {
                        throw VireoException.Invalid($"<sysinfo><bios><entry name='date'>{date}</entry>: expected mm/dd/yyyy");
                    }

                    if (fields.Count > 0)
                    {
                        tables.Add(new SmbiosTable(type, fields));
                    }
                }
            }

            var oem = sysinfo.Elements("oemStrings").Elements("entry").Select(e => ("value", e.Value)).ToList();
            if (oem.Count > 0)
            {
                tables.Add(new SmbiosTable(11, oem));
            }
        }

        return tables;
    }

    /// <summary>The items of <c>&lt;sysinfo type='fwcfg'&gt;</c>.</summary>
    public static IReadOnlyList<FwCfgEntry> FwCfgEntries(DomainDefinition def)
    {
        ArgumentNullException.ThrowIfNull(def);
        var entries = new List<FwCfgEntry>();
        foreach (XElement entry in SysinfoElements(def, "fwcfg").Elements("entry"))
        {
            string name = (string?)entry.Attribute("name") ?? throw VireoException.Invalid("<sysinfo type='fwcfg'><entry> needs a name attribute");
            if (!name.StartsWith("opt/", StringComparison.Ordinal) || name.Length > 55 || name.Contains(',', StringComparison.Ordinal))
            {
                // QEMU's own rule: user items live under opt/ and fit its 56-byte name field.
                throw VireoException.Invalid($"<sysinfo type='fwcfg'><entry name='{name}'>: names must start with 'opt/' and be shorter than 56 bytes");
            }

            string? file = (string?)entry.Attribute("file");
            entries.Add(new FwCfgEntry(name, file is null ? entry.Value : null, file));
        }

        return entries;
    }

    /// <summary>The definition's <c>&lt;pm&gt;</c>.</summary>
    public static PowerManagement Power(DomainDefinition def)
    {
        ArgumentNullException.ThrowIfNull(def);
        XElement? pm = def.Extra.Elements.FirstOrDefault(e => e.Name == "pm");
        return pm is null ? PowerManagement.Default : new PowerManagement(Enabled(pm, "suspend-to-mem"), Enabled(pm, "suspend-to-disk"));
    }

    /// <summary>Reads everything once so a bad value fails at define, not at start.</summary>
    internal static void Validate(DomainDefinition def)
    {
        _ = SmbiosTables(def);
        _ = FwCfgEntries(def);
        _ = Power(def);
        foreach (XElement s in def.Extra.Elements.Where(e => e.Name == "sysinfo"))
        {
            string? type = (string?)s.Attribute("type");
            if (type is not ("smbios" or "fwcfg"))
            {
                throw VireoException.Invalid($"<sysinfo type='{type}'>: expected 'smbios' or 'fwcfg'");
            }
        }
    }

    private static IEnumerable<XElement> SysinfoElements(DomainDefinition def, string type) =>
        def.Extra.Elements.Where(e => e.Name == "sysinfo" && (string?)e.Attribute("type") == type);

    private static bool? Enabled(XElement pm, string name)
    {
        XElement? state = pm.Element(name);
        if (state is null)
        {
            return null;
        }

        return (string?)state.Attribute("enabled") switch
        {
            null => null,
            "yes" => true,
            "no" => false,
            string other => throw VireoException.Invalid($"<pm><{name} enabled='{other}'>: expected 'yes' or 'no'"),
        };
    }
}
