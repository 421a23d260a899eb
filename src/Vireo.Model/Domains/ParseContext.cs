using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// State of one parse: collects elements the model does not read and, at the end, refuses those that would
/// change what the VM is. Unmodeled elements on the harmless list (metadata, power management hints, host-side
/// accounting, security labels) are kept and written back.
/// </summary>
internal sealed class ParseContext
{
    /// <summary>Unmodeled paths (relative to &lt;domain&gt;) that do not change the guest; they round-trip untouched.</summary>
    private static readonly HashSet<string> Harmless = new(StringComparer.Ordinal)
    {
        "metadata", "pm", "resource", "sysinfo", "idmap", "perf", "keywrap", "on_lockfailure", "genid",
        "blkiotune", "memtune", "throttlegroups", "bootloader", "bootloader_args",
        "cputune/shares", "cputune/period", "cputune/quota", "cputune/global_period", "cputune/global_quota",
        "cputune/emulator_period", "cputune/emulator_quota", "cputune/iothread_period", "cputune/iothread_quota",
        "cputune/vcpusched", "cputune/iothreadsched", "cputune/emulatorsched", "cputune/cachetune", "cputune/memorytune",
        "devices/disk/source/seclabel", "devices/interface/tune", "devices/interface/script",
        "devices/interface/ip", "devices/interface/route", "devices/interface/coalesce",
        "devices/interface/filterref", "devices/disk/source/reservations",
        "devices/memballoon/driver", "devices/tpm/backend/encryption", "devices/tpm/backend/active_pcr_banks",
        "devices/tpm/backend/profile", "devices/tpm/backend/persistent_state",
    };

    private readonly List<string> _unsupported = [];

    public void ReportUnmodeled(string parentPath, XElement element)
    {
        string name = element.Name.LocalName;
        string path = parentPath.Length == 0 ? name : parentPath + "/" + name;
        if (name == "seclabel" || Harmless.Contains(StripBackingStore(path)))
        {
            return;
        }
        // Other XML namespaces are only harmless inside <metadata>, which is never walked.
        _unsupported.Add(element.Name.Namespace == XNamespace.None ? path : $"{path} (namespace {element.Name.NamespaceName})");
    }

    /// <summary>Throws when anything unmodeled and not harmless was seen, naming every such element.</summary>
    public void ThrowIfUnsupported()
    {
        if (_unsupported.Count == 0)
        {
            return;
        }
        string list = string.Join(", ", _unsupported.Distinct().Select(p => $"<{p}>"));
        string first = _unsupported[0];
        throw VireoException.Unsupported(_unsupported.Count == 1
            ? $"unsupported element <{first}> in domain XML: Vireo does not implement it"
            : $"unsupported elements in domain XML: {list}: Vireo does not implement them");
    }

    private static string StripBackingStore(string path) => path.Replace("/backingStore", "", StringComparison.Ordinal);
}
