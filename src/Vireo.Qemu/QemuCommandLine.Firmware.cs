using Vireo.Model.Domains;

namespace Vireo.Qemu;

/// <summary>
/// UEFI firmware choice for a domain: the code image, the variable-store template and where the domain's own NVRAM
/// copy lives. The engine copies <see cref="FirmwarePlan.VarsTemplate"/> to <see cref="FirmwarePlan.NvramPath"/>
/// before the first start; the argv builder maps both as pflash.
/// </summary>
public static class QemuFirmware
{
    /// <summary>Debian's <c>ovmf</c> package: 4 MiB images.</summary>
    public const string OvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    public const string OvmfCodeSecure = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
    public const string OvmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

    /// <summary>Null for BIOS domains.</summary>
    public static FirmwarePlan? Plan(DomainDefinition def, string runtimeDirectory, string? nvramOverride = null)
    {
        OsConfig os = def.Os;
        bool efi = os.Firmware == "efi" || (os.Loader is { Type: "pflash" or null, Path: not null } && os.Loader.Path.Contains("OVMF", StringComparison.OrdinalIgnoreCase)) || os.Loader?.Type == "pflash";
        if (!efi)
        {
            return os.Loader is { Type: "rom", Path: string rom } ? new FirmwarePlan(rom, null, null, false, Rom: true) : null;
        }
        // Like libvirt's automatic choice: q35 gets the Secure Boot capable build (which needs SMM). With Debian's
        // OVMF_VARS_4M.fd (no keys enrolled) Secure Boot stays off until the guest enrols keys.
        bool secure = os.Loader?.Secure ?? (os.Loader?.Path is null && os.Firmware == "efi" && os.IsQ35);
        string code = os.Loader?.Path ?? (secure ? OvmfCodeSecure : OvmfCode);
        string? template = os.Nvram?.Template ?? (code.Contains("_4M", StringComparison.Ordinal) ? OvmfVars : "/usr/share/OVMF/OVMF_VARS.fd");
        string nvram = nvramOverride ?? os.Nvram?.Path ?? Path.Combine(runtimeDirectory, def.Name + "_VARS.fd");
        return new FirmwarePlan(code, template, nvram, secure, Rom: false);
    }
}

/// <summary>The firmware images of one domain.</summary>
public sealed record FirmwarePlan(string Code, string? VarsTemplate, string? NvramPath, bool Secure, bool Rom);
