using Vireo.Tests;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>libvirt's qemuxml corpus (NAME.xml, NAME.x86_64-latest.args) read in place from ../shared/reference.</summary>
internal static class QemuXmlCorpus
{
    public static string Directory => RepoPaths.Libvirt("qemuxml");

    public static string Schemas => RepoPaths.Libvirt("schemas");

    public static IEnumerable<string> Cases() =>
        System.IO.Directory.EnumerateFiles(Directory, "*.xml")
            .Where(f => !f.EndsWith(".x86_64-latest.xml", StringComparison.Ordinal))
            .Select(f => Path.GetFileNameWithoutExtension(f))
            .Order(StringComparer.Ordinal);

    public static string Input(string name) => File.ReadAllText(Path.Combine(Directory, name + ".xml"));

    public static string? ExpectedArgs(string name)
    {
        string path = Path.Combine(Directory, name + ".x86_64-latest.args");
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }
}
