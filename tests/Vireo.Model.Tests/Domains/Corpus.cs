using Vireo.Tests;

namespace Vireo.Model.Tests.Domains;

/// <summary>libvirt's qemuxml test corpus under ../shared/reference, found from the repo root.</summary>
internal static class Corpus
{
    public static string Reference => RepoPaths.Libvirt();

    public static string QemuXml => Path.Combine(Reference, "qemuxml");

    /// <summary>The input XML files (not the .x86_64-latest.xml outputs).</summary>
    public static IEnumerable<string> Inputs() =>
        Directory.EnumerateFiles(QemuXml, "*.xml").Where(f => !f.EndsWith(".x86_64-latest.xml", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    public static string Name(string path) => Path.GetFileNameWithoutExtension(path);
}
