using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary>
/// What the guest's firmware reports about the machine: SMBIOS tables (<c>-smbios</c>), fw_cfg items
/// (<c>-fw_cfg</c>) and the ACPI sleep states (<c>-global ICH9-LPC|PIIX4_PM.disable_s3/s4</c>), as libvirt emits them.
/// </summary>
internal static class PlatformArgs
{
    // /sys/class/dmi/id file → (SMBIOS type, -smbios key), for <smbios mode='host'>.
    private static readonly (string File, int Type, string Key)[] HostDmi =
    [
        ("bios_vendor", 0, "vendor"), ("bios_version", 0, "version"), ("bios_date", 0, "date"),
        ("sys_vendor", 1, "manufacturer"), ("product_name", 1, "product"), ("product_version", 1, "version"),
        ("product_serial", 1, "serial"), ("product_uuid", 1, "uuid"), ("product_sku", 1, "sku"), ("product_family", 1, "family"),
    ];

    public static void Write(ArgvWriter w)
    {
        WriteSmbios(w);
        foreach (FwCfgEntry e in DomainPlatform.FwCfgEntries(w.Def))
        {
            w.Add("-fw_cfg", new QemuOpts().Add("name", e.Name).Add("file", e.File).Add("string", e.Value));
        }

        PowerManagement pm = DomainPlatform.Power(w.Def);
        string lpc = w.IsQ35 ? "ICH9-LPC" : "PIIX4_PM";
        if (pm.SuspendToMem is bool s3)
        {
            w.Add("-global", $"{lpc}.disable_s3={(s3 ? 0 : 1)}");
        }

        if (pm.SuspendToDisk is bool s4)
        {
            w.Add("-global", $"{lpc}.disable_s4={(s4 ? 0 : 1)}");
        }
    }

    private static void WriteSmbios(ArgvWriter w)
    {
        IReadOnlyList<SmbiosTable> tables = w.Def.Os.SmbiosMode switch
        {
            "sysinfo" => DomainPlatform.SmbiosTables(w.Def),
            "host" => HostTables(w.Options.HostDmiDirectory, w.Def.Uuid),
            _ => [],
        };
        if (w.Def.Os.SmbiosMode == "sysinfo" && tables.Count == 0)
        {
            throw VireoException.Invalid("<os><smbios mode='sysinfo'/> needs a <sysinfo type='smbios'> with at least one entry");
        }

        foreach (SmbiosTable t in tables)
        {
            var opts = new QemuOpts().Add("type", t.Type);
            foreach (var (key, value) in t.Fields)
            {
                opts.Add(key, value);
            }

            w.Add("-smbios", opts);
        }
    }

    /// <summary>The host's own BIOS and system strings, as libvirt copies them; the UUID stays the domain's.</summary>
    private static List<SmbiosTable> HostTables(string dmiDirectory, Guid domainUuid)
    {
        if (!Directory.Exists(dmiDirectory))
        {
            throw VireoException.Unsupported($"<os><smbios mode='host'/>: this host exposes no SMBIOS data ({dmiDirectory} does not exist)");
        }

        var byType = new SortedDictionary<int, List<(string, string)>>();
        foreach (var (file, type, key) in HostDmi)
        {
            string value = key == "uuid" ? domainUuid.ToString() : Read(Path.Combine(dmiDirectory, file));
            if (value.Length > 0)
            {
                (byType.TryGetValue(type, out var list) ? list : byType[type] = []).Add((key, value));
            }
        }

        return byType.Select(kv => new SmbiosTable(kv.Key, kv.Value)).ToList();
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ""; // product_serial and friends are root-only or absent on many hosts
        }
    }

}
